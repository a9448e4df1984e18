"""Replication and failures of a real 3-member `kubeling etcd` cluster (issue 2, behaviours 2-3)."""
from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.support.procs import wait_until

from .cluster import StoreCluster, b64


def test_write_to_any_member_is_visible_everywhere_with_identical_revisions(cluster):
    leader = cluster.leader()
    revisions = []
    for i in range(3):
        r = cluster.put(i, f"k/{i}", f"from-{i}")
        assert r.status_code == 200, r.text
        revisions.append(int(r.json()["header"]["revision"]))
        assert r.json()["header"]["member_id"] == cluster.status(i)["header"]["member_id"]
    assert revisions == [revisions[0], revisions[0] + 1, revisions[0] + 2]
    for i in range(3):  # linearizable reads on every member see every acknowledged write
        assert cluster.get_prefix(i, "k/") == {"k/0": "from-0", "k/1": "from-1", "k/2": "from-2"}
        kv = cluster.get(i, "k/2")["kvs"][0]
        assert kv["mod_revision"] == str(revisions[2])
    follower = (leader + 1) % 3
    assert cluster.get(follower, "k/0", serializable=True)["kvs"][0]["value"] == b64("from-0")


def test_watch_on_a_follower_serves_its_own_applied_log(cluster):
    leader = cluster.leader()
    follower = (leader + 1) % 3
    start = int(cluster.put(leader, "w/0", "x").json()["header"]["revision"])
    lines: list[dict] = []
    done = threading.Event()

    def watch():
        body = json.dumps({"create_request": {"key": b64("w/"), "range_end": b64("w0"), "start_revision": str(start)}})
        with httpx.stream("POST", cluster.url(follower) + "/v3/watch", content=body, timeout=None) as r:
            for line in r.iter_lines():
                if line:
                    lines.append(json.loads(line)["result"])
                if sum(len(m.get("events", [])) for m in lines) >= 4 or done.is_set():
                    return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    for i in range(1, 4):
        assert cluster.put(i % 3, f"w/{i}", "y").status_code == 200
    t.join(15)
    done.set()
    assert lines[0]["created"] is True
    events = [e for m in lines for e in m.get("events", [])]
    assert [int(e["kv"]["mod_revision"]) for e in events] == [start, start + 1, start + 2, start + 3]
    assert {m["header"]["member_id"] for m in lines} == {cluster.status(follower)["header"]["member_id"]}


def _writer(cluster: StoreCluster, wid: int, targets: list[int], acked: dict, stop: threading.Event) -> None:
    n = 0
    with httpx.Client(timeout=3.0) as http:
        while not stop.is_set():
            key = f"load/{wid}/{n}"
            try:
                r = http.post(cluster.url(targets[n % len(targets)]) + "/v3/kv/put",
                              content=json.dumps({"key": b64(key), "value": b64(str(n))}))
                if r.status_code == 200:
                    acked[key] = int(r.json()["header"]["revision"])
            except httpx.HTTPError:
                pass  # not acknowledged: may or may not be applied
            n += 1


@pytest.mark.slow
def test_kill_leader_during_writes_loses_no_acknowledged_write_and_restart_catches_up(cluster):
    leader = cluster.leader()
    survivors = [i for i in range(3) if i != leader]
    acked: dict[str, int] = {}
    stop = threading.Event()
    writers = [threading.Thread(target=_writer, args=(cluster, w, list(range(3)), acked, stop)) for w in range(4)]
    for t in writers:
        t.start()
    wait_until(lambda: len(acked) >= 100, 30, what="100 acknowledged writes before the kill")
    cluster.kill(leader)
    before_kill = len(acked)
    wait_until(lambda: len(acked) >= before_kill + 100, 30, what="survivors acknowledging writes after the kill")
    stop.set()
    for t in writers:
        t.join()
    new_leader = cluster.leader(survivors)
    assert new_leader in survivors
    for i in survivors:
        stored = cluster.get_prefix(i, "load/")
        missing = [k for k in acked if k not in stored]
        assert not missing, f"{len(missing)} acknowledged writes lost on {cluster.names[i]}: {missing[:5]}"
    # each acknowledged write is at the revision it was acknowledged with
    some = list(acked.items())[::50]
    for key, rev in some:
        assert cluster.get(survivors[0], key)["kvs"][0]["mod_revision"] == str(rev)
    cluster.start(leader)  # restart from its data dir
    cluster.wait_healthy([leader])
    target = cluster.status(survivors[0])["header"]["revision"]
    wait_until(lambda: cluster.get(leader, "x", serializable=True)["header"]["revision"] == target, 30,
               what="restarted member caught up")
    assert cluster.get_prefix(leader, "load/", serializable=True) == cluster.get_prefix(survivors[0], "load/")


@pytest.mark.slow
def test_whole_cluster_killed_and_restarted_keeps_every_acknowledged_write(cluster):
    acked = {}
    for n in range(150):
        r = cluster.put(n % 3, f"durable/{n}", str(n))
        assert r.status_code == 200
        acked[f"durable/{n}"] = str(n)
    for i in range(3):
        cluster.kill(i)
    cluster.start()
    cluster.wait_healthy()
    cluster.leader()
    for i in range(3):
        assert cluster.get_prefix(i, "durable/") == acked
    assert cluster.put(0, "after", "restart").status_code == 200


@pytest.mark.slow
def test_without_quorum_clients_get_etcd_errors_after_a_bounded_wait(procs):
    c = StoreCluster(procs, extra=["--request-timeout", "2"]).start()
    c.wait_healthy()
    assert c.put(0, "before", "1").status_code == 200
    c.kill(1)
    c.kill(2)
    t0 = time.monotonic()
    r = c.put(0, "k", "v", timeout=20)
    assert time.monotonic() - t0 < 15
    assert r.status_code == 500 and r.json() == {"error": "context deadline exceeded",
                                                 "message": "context deadline exceeded", "code": 2}
    r = c.post(0, "/v3/kv/range", {"key": b64("before")}, timeout=20)
    assert r.status_code == 503 and r.json()["code"] == 14 and r.json()["error"] == "etcdserver: request timed out"
    r = c.post(0, "/v3/kv/range", {"key": b64("before"), "serializable": True})
    assert r.status_code == 200 and r.json()["kvs"][0]["value"] == b64("1")
    # quorum back: writes work again
    c.start(1)
    wait_until(lambda: c.put(0, "k2", "v", timeout=5).status_code == 200, 40, what="writes after quorum returns")
    c.close()


@pytest.mark.slow
def test_leader_cut_off_from_the_majority_stops_acknowledging_and_steps_down(procs):
    """Freezing both followers (SIGSTOP) cuts the leader off: it must not acknowledge writes, must
    step down (no leader => /health false), and the cluster must heal when they come back."""
    import os
    import signal

    c = StoreCluster(procs, extra=["--request-timeout", "2"]).start()
    c.wait_healthy()
    leader = c.leader()
    followers = [i for i in range(3) if i != leader]
    assert c.put(leader, "before", "1").status_code == 200
    for i in followers:
        os.kill(c.members[i].pid, signal.SIGSTOP)
    try:
        r = c.put(leader, "cut-off", "x", timeout=20)
        assert r.status_code in (500, 503), r.text  # never acknowledged
        wait_until(lambda: c.http.get(c.url(leader) + "/health", timeout=2).status_code == 503, 20,
                   what="the cut-off leader stepping down")
    finally:
        for i in followers:
            os.kill(c.members[i].pid, signal.SIGCONT)
    c.wait_healthy()
    wait_until(lambda: c.put(c.leader(), "after", "1", timeout=5).status_code == 200, 30, what="writes after healing")
    assert all(c.get(i, "before")["kvs"][0]["value"] == b64("1") for i in range(3))
    c.close()
