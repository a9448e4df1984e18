"""Bad input, compaction, snapshots and bounded history of a real `kubeling etcd` cluster
(issue 2, behaviours 3-5)."""
from __future__ import annotations

import json

import httpx
import pytest

from tests.support.procs import wait_until

from .cluster import StoreCluster, b64


@pytest.fixture
def cluster(procs):
    c = StoreCluster(procs, extra=["--max-request-bytes", "65536"]).start()
    c.wait_healthy()
    yield c
    c.close()


def raw(c: StoreCluster, i: int, path: str, body: bytes) -> httpx.Response:
    return c.http.post(c.url(i) + path, content=body)


def test_bad_input_gets_etcd_errors_and_nothing_is_applied(cluster):
    c = cluster
    rev0 = c.status(0)["header"]["revision"]
    cases = [
        ("/v3/kv/put", b"{bad", 400, 3, "invalid character 'b' looking for beginning of object key string"),
        ("/v3/kv/range", b'{"key":"Zm9vPw"}', 400, 3, "illegal base64 data at input byte 4"),
        ("/v3/kv/put", b'{"key":5,"value":"eA=="}', 400, 3, None),
        ("/v3/kv/put", b'{"key":"eA==","value":"eA==","lease":"abc"}', 400, 3, None),
        ("/v3/kv/range", b"{}", 400, 3, "etcdserver: key is not provided"),
        ("/v3/kv/put", json.dumps({"key": b64("k"), "value": b64("v"), "lease": "777"}).encode(), 404, 5,
         "etcdserver: requested lease not found"),
        ("/v3/kv/range", json.dumps({"key": b64("k"), "revision": "1000"}).encode(), 400, 11,
         "etcdserver: mvcc: required revision is a future revision"),
        ("/v3/kv/put", json.dumps({"key": b64("big"), "value": b64("x" * 100_000)}).encode(), 400, 3,
         "etcdserver: request is too large"),
        ("/v3/kv/txn", json.dumps({"success": [{"request_put": {"key": b64("d"), "value": b64("1")}},
                                               {"request_put": {"key": b64("d"), "value": b64("2")}}]}).encode(),
         400, 3, "etcdserver: duplicate key given in txn request"),
        ("/v3/kv/put", json.dumps({"key": b64("m"), "ignore_value": True}).encode(), 400, 3,
         "etcdserver: key not found"),
    ]
    for path, body, status, code, message in cases:
        r = raw(c, 1, path, body)
        assert r.status_code == status, (path, body[:60], r.text)
        js = r.json()
        assert js["code"] == code and js["error"] == js["message"]
        if message:
            assert js["error"] == message
    # Past --max-request-bytes plus gRPC's 512 KiB overhead, etcd's gRPC layer refuses the message
    # (429, ResourceExhausted), and the gateway stops reading it.
    huge = b'{"key":"' + b"A" * 1_000_000 + b'"}'
    r = raw(c, 0, "/v3/kv/put", huge)
    assert r.status_code == 429 and r.json()["code"] == 8
    assert r.json()["error"].startswith("grpc: received message larger than max (")
    assert r.json()["error"].endswith(f" vs. {65536 + 512 * 1024})")
    # Unknown paths and methods answer like etcd's gateway.
    assert raw(c, 0, "/v3/kv/nope", b"{}").status_code == 404
    assert c.http.get(c.url(0) + "/v3/kv/range").status_code == 405
    # Nothing was applied, and every member still serves and accepts writes.
    assert [c.status(i)["header"]["revision"] for i in range(3)] == [rev0] * 3
    for i in range(3):
        assert c.put(i, f"ok/{i}", "fine").status_code == 200


def test_compaction_and_watch_from_a_compacted_revision(cluster):
    c = cluster
    revs = [int(c.put(0, "h", str(n)).json()["header"]["revision"]) for n in range(5)]
    r = c.post(1, "/v3/kv/compaction", {"revision": str(revs[3]), "physical": True})
    assert r.status_code == 200
    r = c.post(2, "/v3/kv/range", {"key": b64("h"), "revision": str(revs[1])})
    assert r.status_code == 400 and r.json()["error"] == "etcdserver: mvcc: required revision has been compacted"
    assert c.get(2, "h", revision=str(revs[3]))["kvs"][0]["value"] == b64("3")
    body = json.dumps({"create_request": {"key": b64("h"), "start_revision": str(revs[0])}})
    msgs = []
    with httpx.stream("POST", c.url(2) + "/v3/watch", content=body, timeout=10) as resp:
        for line in resp.iter_lines():
            if line:
                msgs.append(json.loads(line)["result"])
            if len(msgs) == 2:
                break
    assert msgs[0]["created"] is True
    assert msgs[1]["canceled"] is True and msgs[1]["compact_revision"] == str(revs[3])
    assert "revision" not in msgs[1]["header"]


@pytest.mark.slow
def test_history_and_raft_log_stay_bounded_under_a_long_write_load(procs):
    c = StoreCluster(procs, extra=["--auto-compaction-mode", "revision", "--auto-compaction-retention", "200",
                                   "--snapshot-count", "300"]).start()
    c.wait_healthy()
    leader = c.leader()
    follower = (leader + 1) % 3
    c.kill(follower)  # it will need a snapshot to catch up: the leader's log gets compacted meanwhile
    with httpx.Client(timeout=10) as http:
        for n in range(1500):
            r = http.post(c.url(leader) + "/v3/kv/put",
                          content=json.dumps({"key": b64(f"load/{n % 50}"), "value": b64("v" * 100)}))
            assert r.status_code == 200
    rev = int(c.status(leader)["header"]["revision"])

    def compacted():
        m = c.http.get(c.url(leader) + "/metrics").text
        line = [x for x in m.splitlines() if x.startswith("etcd_debugging_mvcc_compact_revision ")][0]
        return float(line.split()[1]) >= rev - 400

    wait_until(compacted, 30, what="auto-compaction to keep ~200 revisions")
    r = c.post(leader, "/v3/kv/range", {"key": b64("load/1"), "revision": "2"})
    assert r.json()["code"] == 11  # old history is gone
    c.start(follower)
    c.wait_healthy([follower])
    wait_until(lambda: c.get(follower, "x", serializable=True)["header"]["revision"] == str(rev), 40,
               what="the restarted follower caught up from a snapshot")
    assert c.get_prefix(follower, "load/", serializable=True) == c.get_prefix(leader, "load/")
    c.close()
