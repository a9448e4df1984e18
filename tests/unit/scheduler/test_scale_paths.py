"""What makes scheduling fast in a big cluster, and must not change where it lands pods:
percentageOfNodesToScore with a round-robin start, plugins skipped by PreFilter/PreScore, the
cache's incremental node totals and snapshot, and assumption expiry."""
from __future__ import annotations

import random
from typing import Any

import pytest

from kubeling.services.scheduler.cache import Cache
from kubeling.services.scheduler.framework.interface import SKIP, NodeInfo, Status
from kubeling.services.scheduler.framework.runtime import FitError, Framework, num_feasible_nodes_to_find
from kubeling.services.scheduler.main import parser

from .test_framework import infos, labelled, node, pod


@pytest.mark.parametrize("nodes,pct,want", [
    (50, 0, 50),        # fewer than 100 nodes: all of them
    (100, 0, 100),      # 50 % of 100 is below the 100-node floor
    (500, 0, 230),      # 50 - 500/125 = 46 %
    (1000, 0, 420),     # 42 %
    (5000, 0, 500),     # 10 %
    (6000, 0, 300),     # 50 - 48 = 2 %, raised to the 5 % minimum
    (1000, 10, 100),    # explicit 10 % = 100
    (1000, 5, 100),     # 50 nodes, raised to the 100-node floor
    (1000, 100, 1000),  # 100 %: every node
])
def test_num_feasible_nodes_to_find_follows_upstream(nodes: int, pct: int, want: int):
    assert num_feasible_nodes_to_find(nodes, pct) == want


def test_big_cluster_filters_a_share_of_the_nodes_round_robin():
    nodes = infos(*[node(f"n{i:04d}") for i in range(1000)])
    fw = Framework()
    calls: list[str] = []

    class Recorder:
        name = "Recorder"

        def filter(self, state: Any, p: Any, n: NodeInfo) -> Status:
            calls.append(n.name)
            return Status()
    fw.filters.append(Recorder())
    fw.schedule(pod("a"), nodes, random.Random(0))
    assert len(calls) == 420 and calls[0] == "n0000" and calls[-1] == "n0419"
    calls.clear()
    fw.schedule(pod("b"), nodes, random.Random(0))
    assert calls[0] == "n0420" and len(calls) == 420  # the next search starts where the last stopped
    calls.clear()
    fw.schedule(pod("c"), nodes, random.Random(0))
    assert calls[0] == "n0840" and calls[159] == "n0999" and calls[160] == "n0000"  # and wraps around


def test_a_share_still_reports_every_node_when_none_fits():
    nodes = infos(*[node(f"n{i}", cpu="1") for i in range(300)])
    with pytest.raises(FitError) as e:
        Framework(percentage_of_nodes_to_score=10).schedule(pod("big", cpu="2"), nodes)
    assert e.value.message == "0/300 nodes are available: 300 Insufficient cpu."
    # one fitting node far from the start is still found
    nodes[250].set_node(node("n250", cpu="4"))
    assert Framework(percentage_of_nodes_to_score=10).schedule(pod("big", cpu="2"), nodes)[0] == "n250"


def test_fullest_first_nodes_do_not_win_when_all_nodes_are_scored():
    # with 100 % of the nodes scored the emptiest node wins wherever it is in the list
    nodes = infos(*[node(f"n{i:03d}") for i in range(150)],
                  pods={f"n{i:03d}": [pod(f"x{i}", cpu="2")] for i in range(149)})
    assert Framework(percentage_of_nodes_to_score=100).schedule(pod("p", cpu="100m"), nodes)[0] == "n149"


def test_prefilter_skip_leaves_a_filter_out_and_prescore_skip_a_score():
    seen: list[str] = []

    class Skipper:
        name = "Skipper"

        def pre_filter(self, state: Any, p: Any, nodes: Any) -> Status:
            return SKIP

        def filter(self, state: Any, p: Any, n: NodeInfo) -> Status:
            seen.append("filter")
            return Status.unschedulable("never")

        def pre_score(self, state: Any, p: Any, nodes: Any) -> Status:
            return SKIP

        def score(self, state: Any, p: Any, n: NodeInfo) -> int:
            seen.append("score")
            return 0

        def normalize(self, state: Any, p: Any, scores: dict[str, int]) -> None:
            pass
    fw = Framework(filters=[Skipper], scores=[(Skipper, 1)])
    assert fw.schedule(pod("p"), infos(node("a"), node("b")))[0] in ("a", "b")
    assert seen == []


def test_status_updates_of_an_assigned_pod_do_not_count_it_twice():
    c = Cache()
    c.add_or_update_node(node("a", cpu="2"))
    bound = pod("p", cpu="1500m")
    bound["spec"]["nodeName"] = "a"
    for phase in ("Pending", "Running", "Running"):
        c.add_or_update_pod(dict(bound, status={"phase": phase}))
    info = c.nodes["a"]
    assert info.requested.milli_cpu == 1500 and len(info.pods) == 1
    assert info.pods["default/p"]["status"]["phase"] == "Running"
    with pytest.raises(FitError, match="1 Insufficient cpu"):
        Framework().schedule(pod("q", cpu="1"), c.snapshot())
    resized = dict(bound, spec={**bound["spec"], "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]})
    c.add_or_update_pod(resized)  # a changed spec is accounted again
    assert info.requested.milli_cpu == 1000
    c.remove_pod(resized)
    assert info.requested.milli_cpu == 0 and not info.pods


def test_default_spreading_counts_controller_pods_kept_by_the_cache():
    owner = [{"kind": "ReplicaSet", "name": "rs", "uid": "rs1", "controller": True}]
    c = Cache()
    for n in ("a", "b"):
        c.add_or_update_node(node(n))
    for i, n in enumerate(("a", "a", "b")):
        p = pod(f"r{i}")
        p["metadata"]["ownerReferences"] = owner
        p["spec"]["nodeName"] = n
        c.add_or_update_pod(p)
    assert c.nodes["a"].controller_counts == {("default", "rs1"): 2}
    new = pod("r9")
    new["metadata"]["ownerReferences"] = owner
    assert all(Framework().schedule(new, c.snapshot(), random.Random(i))[0] == "b" for i in range(5))
    c.remove_pod(dict(new, metadata={**new["metadata"], "name": "r0"}, spec={"nodeName": "a"}))
    assert c.nodes["a"].controller_counts == {("default", "rs1"): 1}


def test_snapshot_lists_the_nodes_with_required_anti_affinity_pods():
    c = Cache()
    for n in ("a", "b", "c"):
        c.add_or_update_node(node(n))
    guard = labelled("guard", "b", app="cache")
    guard["spec"]["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    c.add_or_update_pod(guard)
    snap = c.snapshot()
    assert [n.name for n in snap] == ["a", "b", "c"]
    assert [n.name for n in snap.have_pods_with_required_anti_affinity] == ["b"]
    # the existing pod's anti-affinity still keeps a matching pod off b
    assert {Framework().schedule(labelled("x", app="cache"), snap, random.Random(i))[0] for i in range(8)} <= {"a", "c"}
    c.remove_pod(guard)
    assert c.snapshot().have_pods_with_required_anti_affinity == []


def test_assumptions_expire_in_deadline_order_and_confirmed_ones_stay():
    now = [0.0]
    c = Cache(ttl=10, clock=lambda: now[0])
    c.add_or_update_node(node("a"))
    p1, p2 = pod("p1", cpu="1"), pod("p2", cpu="1")
    c.assume(p1, "a")
    c.assume(p2, "a")
    c.finish_binding(p1)
    now[0] = 5
    c.finish_binding(p2)
    c.add_or_update_pod(dict(p2, spec={**p2["spec"], "nodeName": "a"}))  # the informer confirms p2
    now[0] = 11
    c.cleanup_assumed()
    assert not c.is_assumed(p1) and "default/p1" not in c.nodes["a"].pods
    now[0] = 100
    c.cleanup_assumed()
    assert "default/p2" in c.nodes["a"].pods and c.nodes["a"].requested.milli_cpu == 1000


def test_percentage_flag_is_validated():
    assert parser().parse_args(["--percentage-of-nodes-to-score", "30"]).percentage_of_nodes_to_score == 30
    assert parser().parse_args([]).percentage_of_nodes_to_score == 0
    with pytest.raises(SystemExit):
        parser().parse_args(["--percentage-of-nodes-to-score", "101"])
