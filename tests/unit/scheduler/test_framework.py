"""Filter and Score plugins, the FitError message, the scheduling queue and the cache."""
from __future__ import annotations

import asyncio
from typing import Any

from kubeling.services.scheduler.cache import Cache
from kubeling.services.scheduler.framework.interface import NodeInfo, pod_requests
from kubeling.services.scheduler.framework.runtime import FitError, Framework
from kubeling.services.scheduler.queue import SchedulingQueue

import pytest


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: dict | None = None,
         taints: list | None = None, unschedulable: bool = False) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    spec: dict[str, Any] = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": {"allocatable": alloc, "capacity": alloc}}


def pod(name: str, cpu: str | None = None, memory: str | None = None, **spec: Any) -> dict[str, Any]:
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    c = {"name": "c", "image": "nginx", "resources": {"requests": req} if req else {}}
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"containers": [c], **spec}}


def infos(*nodes: dict, pods: dict[str, list] | None = None) -> list[NodeInfo]:
    out = []
    for n in nodes:
        ni = NodeInfo(n)
        for p in (pods or {}).get(n["metadata"]["name"], []):
            ni.add_pod(p)
        out.append(ni)
    return out


def test_fit_error_message_in_upstreams_words():
    nodes = infos(node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]), node("b", cpu="1"), node("c", cpu="1"))
    with pytest.raises(FitError) as e:
        Framework().schedule(pod("p", cpu="2"), nodes)
    assert e.value.message == "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu."
    with pytest.raises(FitError) as e:
        Framework().schedule(pod("p"), [])
    assert e.value.message == "no nodes available to schedule pods"


def test_resources_count_assigned_pods_and_pod_count():
    nodes = infos(node("a", cpu="2", memory="1Gi", pods="2"), pods={"a": [pod("x", cpu="1500m")]})
    fw = Framework()
    with pytest.raises(FitError) as e:
        fw.schedule(pod("p", cpu="600m", memory="2Gi"), nodes)
    assert e.value.message == "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
    assert fw.schedule(pod("p", cpu="500m"), nodes)[0] == "a"
    nodes[0].add_pod(pod("y"))
    with pytest.raises(FitError, match="1 Too many pods"):
        fw.schedule(pod("p"), nodes)


def test_init_containers_and_sidecars_in_requests():
    p = pod("p", cpu="100m")
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "1"}}},
                                   {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "200m"}}}]
    assert pod_requests(p).milli_cpu == 1000  # max(100 + 200 sidecar, 1000 init)
    assert pod_requests(pod("z"), non_zero=True).milli_cpu == 100


def test_taints_tolerations_selector_affinity_unschedulable_ports():
    fw = Framework()
    tainted = node("t", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    plain = node("p", labels={"disk": "ssd"})
    cordoned = node("c", unschedulable=True)
    nodes = infos(tainted, plain, cordoned)
    assert fw.schedule(pod("a"), nodes)[0] == "p"
    tol = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    sel = pod("b", tolerations=tol, nodeSelector={"kubernetes.io/hostname": "t"})
    assert fw.schedule(sel, nodes)[0] == "t"
    with pytest.raises(FitError) as e:
        fw.schedule(pod("c", nodeSelector={"disk": "hdd"}), nodes)
    assert e.value.message == ("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                               "1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable.")
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}]}}}
    assert fw.schedule(pod("d", affinity=aff, tolerations=[{"operator": "Exists"}]), nodes)[0] == "p"
    hp = pod("e")
    hp["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    busy = infos(node("x"), pods={"x": [hp]})
    with pytest.raises(FitError, match="didn't have free ports"):
        fw.schedule(hp | {"metadata": {"name": "e2", "namespace": "default"}}, busy)


def test_scores_prefer_room_preferred_affinity_and_spreading():
    fw = Framework()
    nodes = infos(node("busy"), node("idle"), pods={"busy": [pod("x", cpu="3", memory="6Gi")]})
    assert fw.schedule(pod("p", cpu="100m"), nodes)[0] == "idle"
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}]}}
    nodes = infos(node("a", labels={"zone": "a"}), node("b", labels={"zone": "b"}))
    assert all(fw.schedule(pod("p", affinity=pref), nodes)[0] == "b" for _ in range(5))
    soft = infos(node("soft", taints=[{"key": "k", "effect": "PreferNoSchedule"}]), node("clean"))
    assert all(fw.schedule(pod("p"), soft)[0] == "clean" for _ in range(5))

    def rs_pod(n: str) -> dict:
        p = pod(n)
        p["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "uid": "rs1", "controller": True}]
        return p
    spread = infos(node("one"), node("two"), pods={"one": [rs_pod("r1")], "two": [pod("other")]})
    assert all(fw.schedule(rs_pod("r2"), spread)[0] == "two" for _ in range(5))


def test_queue_priority_then_age_and_backoff():
    async def go() -> None:
        q = SchedulingQueue()
        q.add(pod("old"))
        q.add(pod("new"))
        q.add(pod("vip", priority=1000))
        order = [(await q.pop()).pod["metadata"]["name"] for _ in range(3)]
        assert order == ["vip", "old", "new"]
        info = q.infos["default/old"]
        q.add_unschedulable(info)
        assert q.counts()["unschedulable"] == 1
        q.move_all_to_active_or_backoff("NodeAdd")
        assert q.where["default/old"] == "backoff"  # still inside its 1 s back-off
        t0 = asyncio.get_running_loop().time()
        again = await asyncio.wait_for(q.pop(), 5)
        assert again.pod["metadata"]["name"] == "old" and again.attempts == 2
        assert asyncio.get_running_loop().time() - t0 >= 0.5
        q.close()
    asyncio.run(go())


def test_cache_assume_blocks_double_booking_and_forget_releases():
    c = Cache(ttl=0.0)
    c.add_or_update_node(node("a", cpu="1"))
    fw = Framework()
    p1 = pod("p1", cpu="800m")
    c.assume(p1, "a")
    with pytest.raises(FitError, match="Insufficient cpu"):
        fw.schedule(pod("p2", cpu="800m"), c.snapshot())
    c.forget(p1)
    assert fw.schedule(pod("p2", cpu="800m"), c.snapshot())[0] == "a"
    c.assume(p1, "a")
    bound = dict(p1, spec={**p1["spec"], "nodeName": "a"})
    c.add_or_update_pod(bound)  # the informer confirms
    c.finish_binding(p1)
    c.cleanup_assumed()
    assert "default/p1" in c.nodes["a"].pods and not c.is_assumed(p1)


def labelled(name: str, node_name: str | None = None, **labels: str) -> dict[str, Any]:
    p = pod(name)
    p["metadata"]["labels"] = labels
    if node_name:
        p["spec"]["nodeName"] = node_name
    return p


def test_pod_anti_affinity_affinity_and_existing_pods_rules():
    fw = Framework()
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    nodes = infos(node("a"), node("b"), pods={"a": [labelled("c1", "a", app="cache")]})
    p = labelled("c2", app="cache")
    p["spec"]["affinity"] = anti
    assert fw.schedule(p, nodes)[0] == "b"
    nodes[1].add_pod(dict(p, spec={**p["spec"], "nodeName": "b"}))
    with pytest.raises(FitError) as e:
        fw.schedule(dict(p, metadata={**p["metadata"], "name": "c3"}), nodes)
    assert e.value.message == "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."
    loner = labelled("loner", app="cache")  # no terms of its own: only c2's anti-affinity keeps it off b
    assert fw.schedule(loner, nodes)[0] == "a"
    with pytest.raises(FitError) as e:
        fw.schedule(loner, infos(node("b"), pods={"b": [nodes[1].pods["default/c2"]]}))
    assert e.value.message == "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules."
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    web = labelled("web", app="web")
    web["spec"]["affinity"] = aff
    with pytest.raises(FitError, match="2 node\\(s\\) didn't match pod affinity rules"):
        fw.schedule(web, infos(node("a"), node("b")))
    assert fw.schedule(web, infos(node("a"), node("b"), pods={"b": [labelled("db", "b", app="db")]}))[0] == "b"
    first = labelled("db0", app="db")  # the first pod of a group may match its own affinity term
    first["spec"]["affinity"] = aff
    assert fw.schedule(first, infos(node("a")))[0] == "a"


def test_preferred_pod_affinity_scores():
    fw = Framework()
    pref = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}}]}}
    nodes = infos(node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"}), node("c", labels={"zone": "z2"}),
                  pods={"c": [labelled("db", "c", app="db")]})
    p = labelled("web", app="web")
    p["spec"]["affinity"] = pref
    assert all(fw.schedule(p, nodes)[0] in ("b", "c") for _ in range(6))


def test_topology_spread_constraints_filter_and_score():
    fw = Framework()
    zones = [node("a1", labels={"zone": "a"}), node("a2", labels={"zone": "a"}), node("b1", labels={"zone": "b"}),
             node("nolabel")]
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    nodes = infos(*zones, pods={"a1": [labelled("w1", "a1", app="web")]})
    p = labelled("w2", app="web")
    p["spec"]["topologySpreadConstraints"] = spread
    assert all(fw.schedule(p, nodes)[0] == "b1" for _ in range(4))  # zone a has 1, b has 0: only b keeps skew <= 1
    cordoned_b = node("b1", labels={"zone": "b"}, unschedulable=True)  # still a domain that counts
    nodes = infos(zones[0], zones[1], cordoned_b, zones[3],
                  pods={"a1": [labelled("w1", "a1", app="web")], "b1": [labelled("w3", "b1", app="web")],
                        "a2": [labelled("w4", "a2", app="web")]})
    with pytest.raises(FitError) as e:
        fw.schedule(p, nodes)
    assert e.value.message == ("0/4 nodes are available: 1 node(s) didn't match pod topology spread constraints "
                               "(missing required label), 1 node(s) were unschedulable, "
                               "2 node(s) didn't match pod topology spread constraints.")
    soft = [dict(spread[0], whenUnsatisfiable="ScheduleAnyway")]
    q = labelled("w5", app="web")
    q["spec"]["topologySpreadConstraints"] = soft
    assert all(fw.schedule(q, infos(*zones, pods={"a1": [labelled("w1", "a1", app="web")]}))[0] in ("b1", "nolabel")
               for _ in range(6))
