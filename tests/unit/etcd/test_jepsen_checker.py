"""The partition test's checker (tests/integration/etcd/jepsen.py) on made-up histories: it must
catch what it claims to catch, or a clean partition run would prove nothing."""
from __future__ import annotations

from tests.integration.etcd.jepsen import REGISTER, Op, RunResult, check


def put(client, key, value, start, end, rev, status="ok"):
    return Op(client, "put", key, value, start, end, status, rev if status == "ok" else 0)


def get(client, start, end, rev, read=None, mod=0):
    return Op(client, "get", REGISTER, None, start, end, "ok", rev, mod, read)


def dump(*kvs):
    return [(k, v, rev, rev, 1) for k, v, rev in kvs]


def checked(ops, dumps):
    r = RunResult("test")
    check(ops, dumps, r)
    return r


def test_a_clean_history_passes():
    ops = [put("a", "/jepsen/k/a-1", "a-1", 0, 1, 2), put("r", REGISTER, "r-1", 1.5, 2, 3),
           get("r", 3, 4, 3, "r-1", 3), put("a", "/jepsen/k/a-2", "a-2", 2, 5, 4, status="unknown")]
    d = dump(("/jepsen/k/a-1", "a-1", 2), (REGISTER, "r-1", 3))
    r = checked(ops, [d, d, d])
    assert (r.lost, r.anomalies, r.members_identical) == (0, 0, True), r.problems
    assert (r.acknowledged_writes, r.unknown_writes, r.ok_reads) == (2, 1, 1)


def test_a_lost_acknowledged_write_is_found():
    ops = [put("a", "/jepsen/k/a-1", "a-1", 0, 1, 2)]
    r = checked(ops, [dump(), dump(), dump()])
    assert r.lost == 1


def test_a_stale_register_read_is_found():
    ops = [put("r", REGISTER, "r-1", 0, 1, 2), put("r", REGISTER, "r-3", 1, 2, 3),
           get("s", 2.5, 3, 3, "r-1", 2)]  # started after r-3 was acknowledged, saw r-1
    d = dump((REGISTER, "r-3", 3))
    r = checked(ops, [d, d, d])
    assert r.anomalies == 1 and "stale register read" in r.problems[0]


def test_a_read_behind_an_acknowledged_revision_is_found():
    ops = [put("a", "/jepsen/k/a-1", "a-1", 0, 1, 5), get("s", 2, 3, 4)]
    d = dump(("/jepsen/k/a-1", "a-1", 5))
    r = checked(ops, [d, d, d])
    assert r.anomalies == 1 and "stale read" in r.problems[0]


def test_a_value_nobody_wrote_and_a_shared_revision_are_found():
    ops = [put("a", "/jepsen/k/a-1", "a-1", 0, 1, 2), put("b", "/jepsen/k/b-1", "b-1", 0, 1, 2),
           get("s", 2, 3, 2, "ghost", 2)]
    d = dump(("/jepsen/k/a-1", "a-1", 2), ("/jepsen/k/b-1", "b-1", 2))
    r = checked(ops, [d, d, d])
    assert any("both acknowledged at revision 2" in p for p in r.problems)
    assert any("which no put wrote" in p for p in r.problems)


def test_members_that_differ_after_healing_are_found():
    a = dump(("/jepsen/k/a-1", "a-1", 2))
    r = checked([put("a", "/jepsen/k/a-1", "a-1", 0, 1, 2)], [a, a, dump()])
    assert not r.members_identical and r.anomalies == 1
