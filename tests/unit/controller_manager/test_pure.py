"""Pure logic of the controller-manager: deployment arithmetic, taints and tolerations, node
CIDR allocation, expectations, endpoint grouping, --controllers parsing."""
from __future__ import annotations

import time

import pytest
from kubeling.services.controller_manager import deploymentutil as du
from kubeling.services.controller_manager.endpoints import build_subsets
from kubeling.services.controller_manager.endpointslice import desired_slices
from kubeling.services.controller_manager.expectations import Expectations
from kubeling.services.controller_manager.manager import enabled
from kubeling.services.controller_manager.nodeipam import CIDRSet
from kubeling.services.controller_manager.nodelifecycle import reconcile_taints
from kubeling.services.controller_manager.podutil import deletion_rank
from kubeling.services.controller_manager.taintmanager import eviction_delay, tolerates
from kubeling.shared.flags import duration


def deploy(replicas=10, surge="25%", unavailable="25%", type_="RollingUpdate"):
    return {"metadata": {"generation": 1}, "spec": {"replicas": replicas, "strategy": {
        "type": type_, "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}}


def test_surge_rounds_up_and_unavailable_rounds_down():
    d = deploy(10)
    assert du.max_surge(d) == 3 and du.max_unavailable(d) == 2
    assert du.max_surge(deploy(4, 1, 1)) == 1 and du.max_unavailable(deploy(4, 1, 1)) == 1
    assert du.max_unavailable(deploy(3, 0, 0)) == 1  # fencepost: never both zero
    assert du.max_unavailable(deploy(3, type_="Recreate")) == 0


def test_new_rs_replicas_bounded_by_surge():
    d = deploy(4, 1, 1)
    old = {"spec": {"replicas": 4}}
    new = {"spec": {"replicas": 0}}
    assert du.new_rs_new_replicas(d, [old, new], new) == 1
    old["spec"]["replicas"] = 3
    new["spec"]["replicas"] = 1
    assert du.new_rs_new_replicas(d, [old, new], new) == 2
    assert du.new_rs_new_replicas(deploy(4, type_="Recreate"), [old, new], new) == 4


def test_template_hash_is_stable_ignores_its_own_label_and_changes_with_collisions():
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    h = du.template_hash(t)
    assert h == du.template_hash({"metadata": {"labels": {"app": "x", "pod-template-hash": h}}, "spec": t["spec"]})
    assert all(c in "bcdfghjklmnpqrstvwxz2456789" for c in h)
    assert du.template_hash(t, 1) != h
    t2 = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}
    assert du.template_hash(t2) != h
    assert du.equal_ignore_hash({"metadata": {"labels": {"app": "x", "pod-template-hash": h}}, "spec": t["spec"]}, t)
    assert not du.equal_ignore_hash(t, t2)


def test_conditions_keep_transition_time_while_status_holds():
    st: dict = {}
    du.set_condition(st, "Available", "True", "MinimumReplicasAvailable", "ok")
    first = st["conditions"][0]["lastTransitionTime"]
    du.set_condition(st, "Available", "True", "MinimumReplicasAvailable", "ok")
    assert len(st["conditions"]) == 1 and st["conditions"][0]["lastTransitionTime"] == first
    du.set_condition(st, "Available", "False", "MinimumReplicasUnavailable", "no")
    assert st["conditions"][0]["status"] == "False"


def test_deployment_complete_needs_every_count_and_observed_generation():
    d = deploy(3)
    st = {"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3, "observedGeneration": 1}
    assert du.deployment_complete(d, st)
    assert not du.deployment_complete(d, {**st, "replicas": 4})
    assert not du.deployment_complete({**d, "metadata": {"generation": 2}}, st)


def test_tolerations_and_eviction_delays():
    unreachable = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}
    added = du_time("2026-01-01T00:00:00Z")
    default = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    pod = {"spec": {"tolerations": [default]}}
    assert tolerates(default, unreachable)
    assert not tolerates({"key": "other", "operator": "Exists"}, unreachable)
    assert tolerates({"operator": "Exists"}, unreachable)
    assert eviction_delay(pod, [unreachable], added + 10, 300) == pytest.approx(290)
    assert eviction_delay(pod, [unreachable], added + 10, 5) == 0  # capped by --pod-eviction-timeout
    assert eviction_delay({"spec": {}}, [unreachable], added, 300) == 0  # not tolerated: now
    forever = {"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}]}}
    assert eviction_delay(forever, [unreachable], added, 5) is None
    own = {"spec": {"tolerations": [{**default, "tolerationSeconds": 60}]}}
    assert eviction_delay(own, [unreachable], added, 5) == pytest.approx(60)  # user-chosen values are not capped


def du_time(s: str) -> float:
    from kubeling.services.controller_manager.podutil import parse_time
    t = parse_time(s)
    assert t is not None
    return t


def test_lifecycle_taints_follow_ready_and_keep_time_added():
    node = {"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    taints = reconcile_taints(node, "T1")
    assert taints is not None
    assert {(t["key"], t["effect"]) for t in taints} == {("dedicated", "NoSchedule"),
                                                        ("node.kubernetes.io/unreachable", "NoSchedule"),
                                                        ("node.kubernetes.io/unreachable", "NoExecute")}
    node["spec"]["taints"] = taints
    assert reconcile_taints(node, "T2") is None
    node["status"]["conditions"][0]["status"] = "False"
    flipped = reconcile_taints(node, "T3")
    assert flipped is not None and {t["key"] for t in flipped} == {"dedicated", "node.kubernetes.io/not-ready"}
    node["spec"]["taints"] = flipped
    node["status"]["conditions"][0]["status"] = "True"
    assert reconcile_taints(node, "T4") == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    node["spec"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    node["spec"]["unschedulable"] = True  # kubectl cordon
    node["status"]["conditions"].append({"type": "DiskPressure", "status": "True"})
    cordoned = reconcile_taints(node, "T5")
    assert cordoned is not None and {(t["key"], t["effect"]) for t in cordoned} >= {
        ("node.kubernetes.io/unschedulable", "NoSchedule"), ("node.kubernetes.io/disk-pressure", "NoSchedule")}


def test_cidr_set_allocates_free_ranges_and_respects_occupied():
    s = CIDRSet("10.244.0.0/22", 24)
    s.occupy("10.244.0.0/24")
    s.occupy("192.168.0.0/24")  # outside: ignored
    assert s.allocate() == "10.244.1.0/24"
    assert s.allocate() == "10.244.2.0/24"
    s.release("10.244.1.0/24")
    assert s.allocate() == "10.244.1.0/24"
    assert s.allocate() == "10.244.3.0/24"
    with pytest.raises(RuntimeError):
        s.allocate()
    with pytest.raises(ValueError):
        CIDRSet("10.0.0.0/24", 16)


def test_expectations_gate_until_observed_or_expired():
    now = [0.0]
    e = Expectations(timeout=10, clock=lambda: now[0])
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["ns/a"])
    assert not e.satisfied("ns/rs")
    now[0] = 11
    assert e.satisfied("ns/rs")


def pod(name, ip, ready=True, labels=None, node="n1", ports=None, deleting=False, phase="Running"):
    md = {"name": name, "namespace": "default", "uid": name, "labels": labels or {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}]},
            "status": {"phase": phase, "podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_endpoints_split_ready_and_resolve_named_ports():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default", "uid": "s1"},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    pods = [pod("a", "10.0.0.2", ports=[{"name": "http", "containerPort": 8080}]),
            pod("b", "10.0.0.3", ready=False, ports=[{"name": "http", "containerPort": 8080}]),
            pod("c", "10.0.0.4", ports=[{"name": "http", "containerPort": 9090}]),
            pod("d", "10.0.0.5", ports=[]),  # no such named port: not an endpoint
            pod("e", "10.0.0.6", deleting=True, ports=[{"name": "http", "containerPort": 8080}]),
            pod("f", "10.0.0.7", labels={"app": "other"})]
    subsets = build_subsets(svc, pods)
    assert [(s["ports"][0]["port"], [a["ip"] for a in s.get("addresses", [])],
             [a["ip"] for a in s.get("notReadyAddresses", [])]) for s in subsets] == [
        (8080, ["10.0.0.2"], ["10.0.0.3"]), (9090, ["10.0.0.4"], [])]
    slices = desired_slices(svc, pods)
    conds = {e["targetRef"]["name"]: e["conditions"] for s in slices for e in s["endpoints"]}
    assert conds["e"] == {"ready": False, "serving": True, "terminating": True}
    assert conds["b"] == {"ready": False, "serving": False, "terminating": False}
    assert all(s["metadata"]["labels"]["kubernetes.io/service-name"] == "web" for s in slices)
    assert len({s["metadata"]["name"] for s in slices}) == 2


def test_deletion_rank_prefers_unscheduled_pending_unready_new():
    older = pod("old", "1", ready=True)
    older["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    newer = pod("new", "2", ready=True)
    newer["metadata"]["creationTimestamp"] = "2026-01-02T00:00:00Z"
    unready = pod("unready", "3", ready=False)
    pending = pod("pending", "", ready=False, phase="Pending", node="")
    order = [p["metadata"]["name"] for p in sorted([older, newer, unready, pending], key=deletion_rank)]
    assert order == ["pending", "unready", "new", "old"]


def test_controllers_flag():
    assert "garbagecollector" not in enabled("*,-garbagecollector")
    assert enabled("replicaset,deployment") == ["replicaset", "deployment"]
    with pytest.raises(ValueError):
        enabled("nosuch")


def test_durations():
    assert duration("5m") == 300 and duration("1m30s") == 90 and duration("500ms") == 0.5 and duration("4") == 4
    assert time.time() > 0


def test_out_of_service_needs_the_taint_and_a_node_that_is_not_ready():
    from kubeling.services.controller_manager.podgc import out_of_service
    taint = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}
    down = {"spec": {"taints": [taint]}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert out_of_service(down)
    assert not out_of_service({**down, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert not out_of_service({**down, "spec": {"taints": [{**taint, "effect": "NoSchedule"}]}})


def test_ttl_after_finished_counts_from_completion():
    from kubeling.services.controller_manager.ttlafterfinished import seconds_left
    job = {"metadata": {}, "spec": {"ttlSecondsAfterFinished": 10},
           "status": {"completionTime": "2026-01-01T00:00:00Z",
                      "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    t0 = du_time("2026-01-01T00:00:00Z")
    assert seconds_left(job, t0 + 4) == pytest.approx(6)
    assert seconds_left(job, t0 + 40) == 0
    assert seconds_left({**job, "spec": {}}, t0) is None
    assert seconds_left({**job, "status": {}}, t0) is None  # not finished


def test_job_index_ranges_round_trip():
    from kubeling.services.controller_manager.job import format_indexes, parse_indexes
    assert format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert parse_indexes("0-2,4,6-7") == {0, 1, 2, 4, 6, 7}
    assert format_indexes(set()) == ""


def test_cronjob_most_recent_is_bounded_and_refuses_impossible_schedules():
    """upstream's mostRecentScheduleTime: a few steps for a years-old lastScheduleTime, and an
    error (not a search) for a schedule that never fires."""
    from datetime import UTC, datetime, timedelta

    from kubeling.services.controller_manager.cronjob import most_recent
    from kubeling.shared.cron import ScheduleError, parse_standard

    now = datetime(2026, 1, 1, 10, 7, 30, tzinfo=UTC)
    every5 = parse_standard("*/5 * * * *")
    assert most_recent(every5, now - timedelta(minutes=3), now) == (datetime(2026, 1, 1, 10, 5, tzinfo=UTC), 1)
    assert most_recent(every5, now - timedelta(minutes=1), now) == (None, 0)
    latest, missed = most_recent(every5, now - timedelta(minutes=31), now)
    assert latest == datetime(2026, 1, 1, 10, 5, tzinfo=UTC) and missed == 6
    # ten years of minutes behind: counted from the period, not walked minute by minute
    latest, missed = most_recent(parse_standard("* * * * *"), now - timedelta(days=3650), now)
    assert latest == datetime(2026, 1, 1, 10, 7, tzinfo=UTC) and missed > 5_000_000
    # uneven spacing (6-16/4 on weekdays) still lands on the exact latest time
    latest, _ = most_recent(parse_standard("30 6-16/4 * * 1-5"), now - timedelta(days=30), now)
    assert latest == datetime(2026, 1, 1, 6, 30, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="less than 1 second"):
        most_recent(parse_standard("0 0 30 2 *"), now - timedelta(days=1), now)


def test_full_disruption_halts_noexecute_taints():
    from kubeling.services.controller_manager.nodelifecycle import full_disruption
    down = {"spec": {}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    up = {"spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert full_disruption([down, down]) and not full_disruption([down, up]) and not full_disruption([])
    taints = reconcile_taints(down, "T", evictions=False)
    assert taints == [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]
