"""The store's state machine: etcd's MVCC, txn and lease semantics, applied without Raft."""
import pytest

from kubeling.services.etcd import applier, codec, errors, validate
from kubeling.services.etcd.errors import EtcdError
from kubeling.services.etcd.mvcc import DELETE, PUT, MVCCStore


def put(key, value=b"v", **kw):
    return ("put", {"key": key, "value": value, "lease": 0, "prev_kv": False, "ignore_value": False,
                    "ignore_lease": False, **kw})


def delete(key, end=b"", prev_kv=False):
    return ("delete", {"key": key, "range_end": end, "prev_kv": prev_kv})


def rng(key, end=b"", **kw):
    base = {"key": key, "range_end": end, "limit": 0, "revision": 0, "sort_order": 0, "sort_target": 0,
            "serializable": False, "keys_only": False, "count_only": False, "min_mod_revision": 0,
            "max_mod_revision": 0, "min_create_revision": 0, "max_create_revision": 0}
    base.update(kw)
    return base


def run(store, op):
    return applier.apply(store, *op)


def test_revisions_versions_and_noop_delete():
    s = MVCCStore()
    assert s.rev == 1
    assert run(s, put(b"a"))["rev"] == 2
    assert run(s, put(b"a", b"w"))["rev"] == 3
    kv = s.latest(b"a")
    assert (kv.create_revision, kv.mod_revision, kv.version, kv.value) == (2, 3, 2, b"w")
    r = run(s, delete(b"missing"))
    assert r["deleted"] == 0 and s.rev == 3  # a delete that changes nothing does not bump
    run(s, delete(b"a"))
    assert s.rev == 4 and s.latest(b"a") is None
    run(s, put(b"a"))
    assert s.latest(b"a").version == 1 and s.latest(b"a").create_revision == 5  # version resets


def test_range_count_limit_filters_and_history():
    s = MVCCStore()
    for k in (b"a/1", b"a/2", b"a/3", b"b"):
        run(s, put(k))
    r = s.range(rng(b"a/", b"a0", limit=2))
    assert [kv.key for kv in r["kvs"]] == [b"a/1", b"a/2"] and r["more"] and r["count"] == 3
    r = s.range(rng(b"\x00", b"\x00", min_mod_revision=4))
    assert [kv.key for kv in r["kvs"]] == [b"a/3", b"b"] and r["count"] == 4  # count ignores filters
    r = s.range(rng(b"a/", b"a0", sort_order=2, sort_target=3))
    assert [kv.key for kv in r["kvs"]] == [b"a/3", b"a/2", b"a/1"]
    run(s, put(b"a/1", b"new"))
    assert s.range(rng(b"a/1", revision=2))["kvs"][0].value == b"v"
    with pytest.raises(EtcdError) as e:
        s.range(rng(b"a", revision=100))
    assert e.value == errors.FUTURE_REV


def test_compaction_keeps_latest_and_rejects_old_revisions():
    s = MVCCStore()
    run(s, put(b"k", b"1"))  # 2
    run(s, put(b"k", b"2"))  # 3
    run(s, put(b"gone"))  # 4
    run(s, delete(b"gone"))  # 5
    run(s, put(b"k", b"3"))  # 6
    assert run(s, ("compact", 5))["rev"] == 6
    assert s.range(rng(b"k", revision=5))["kvs"][0].value == b"2"  # the compact revision stays readable
    assert b"gone" not in s.index  # tombstone at or before the compact revision is dropped
    assert run(s, ("compact", 5)) == errors.COMPACTED
    assert run(s, ("compact", 99)) == errors.FUTURE_REV
    with pytest.raises(EtcdError) as e:
        s.range(rng(b"k", revision=4))
    assert e.value == errors.COMPACTED
    assert [rev for rev, _ in s.events_since(1)] == [5, 6] and s.events_since(1)[0][1] == []  # delete at 5 gone


def test_txn_compare_branches_and_one_revision():
    s = MVCCStore()
    run(s, put(b"x", b"1"))
    txn = {"compare": [{"key": b"x", "range_end": b"", "target": 2, "result": 0, "operand": 2}],
           "success": [put(b"x", b"2"), put(b"y", b"2"), ("range", rng(b"x"))],
           "failure": [("range", rng(b"x"))]}
    r = run(s, ("txn", txn))
    assert r["succeeded"] and r["rev"] == 3 and s.rev == 3
    assert r["responses"][2][1]["kvs"][0].value == b"2"  # a txn reads its own writes
    assert [e.type for e in s.log[-1]] == [PUT, PUT]  # both writes in one revision
    r = run(s, ("txn", txn))
    assert not r["succeeded"] and r["rev"] == 3  # failed compare: failure branch, no bump


def test_txn_is_atomic_when_a_later_op_fails():
    s = MVCCStore()
    run(s, put(b"b", b"1"))
    # etcd 3.4 panics here; kubeling answers an error and keeps nothing of the txn.
    txn = {"compare": [], "success": [delete(b"a", b"\x00"), put(b"b", b"", ignore_value=True)], "failure": []}
    before = (s.rev, s.latest(b"b"))
    assert run(s, ("txn", txn)) == errors.KEY_NOT_FOUND
    assert (s.rev, s.latest(b"b")) == before


def test_txn_errors_are_checked_before_any_write():
    s = MVCCStore()
    txn = {"compare": [], "success": [put(b"a"), put(b"b", lease=77)], "failure": []}
    assert run(s, ("txn", txn)) == errors.LEASE_NOT_FOUND
    assert s.rev == 1 and s.latest(b"a") is None


def test_lease_revoke_deletes_keys_in_one_revision():
    s = MVCCStore()
    r = run(s, ("lease_grant", (0, 60, 1000.0, 5)))
    lid = r["id"]
    assert run(s, ("lease_grant", (lid, 60, 1000.0, 5))) == errors.LEASE_EXISTS
    run(s, put(b"l/2", lease=lid))
    run(s, put(b"l/1", lease=lid))
    assert run(s, put(b"z", lease=424242)) == errors.LEASE_NOT_FOUND
    run(s, ("lease_revoke", lid))
    assert s.rev == 4 and [e.kv.key for e in s.log[-1]] == [b"l/1", b"l/2"]
    assert all(e.type == DELETE for e in s.log[-1])
    assert run(s, ("lease_revoke", lid)) == errors.LEASE_NOT_FOUND


def test_lease_expiry_respects_renewal():
    s = MVCCStore()
    lid = run(s, ("lease_grant", (7, 10, 100.0, 0)))["id"]
    run(s, put(b"k", lease=lid))
    run(s, ("lease_renew", (lid, 105.0)))  # expires at 115 now
    run(s, ("lease_expire", (lid, 111.0)))
    assert s.latest(b"k") is not None
    run(s, ("lease_expire", (lid, 116.0)))
    assert s.latest(b"k") is None and lid not in s.leases


def test_auto_lease_ids_increase_in_grant_order():
    s = MVCCStore()
    ids = [run(s, ("lease_grant", (0, 60, 0.0, 9)))["id"] for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5 and all(i > 0 for i in ids)


def test_duplicate_key_rules_match_etcd():
    with pytest.raises(EtcdError):
        validate.check_intervals([put(b"x"), put(b"x")])
    with pytest.raises(EtcdError):
        validate.check_intervals([delete(b"a", b"c"), put(b"b")])
    # etcd 3.4 treats a from-key delete ("\0" end) as an empty interval and accepts this
    validate.check_intervals([delete(b"a", b"\x00"), put(b"b")])
    nested = ("txn", {"compare": [], "success": [put(b"x")], "failure": [put(b"x")]})
    validate.check_intervals([nested])  # then/else are exclusive


def test_apply_never_raises_on_garbage():
    s = MVCCStore()
    assert isinstance(applier.apply(s, "put", {"key": b"k"}), EtcdError)  # missing fields
    assert isinstance(applier.apply(s, "bogus", None), EtcdError)
    assert s.rev == 1


def test_codec_base64_and_ints():
    assert codec.b64decode_go("Zm9v") == b"foo"
    for bad, pos in (("Zm9vPw", 4), ("Zm9v!A==", 4), ("Zg==Zg==", 4)):
        with pytest.raises(EtcdError) as e:
            codec.b64decode_go(bad)
        assert e.value.message == f"illegal base64 data at input byte {pos}" and e.value.http_status == 400
    assert codec.get_int({"n": "12"}, "n") == 12 and codec.get_int({"n": 12}, "n") == 12
    with pytest.raises(EtcdError):
        codec.get_int({"n": "x"}, "n")
    with pytest.raises(EtcdError) as e:
        codec.parse_json(b"{bad")
    assert e.value.message == "invalid character 'b' looking for beginning of object key string"
