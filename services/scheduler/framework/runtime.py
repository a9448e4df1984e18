"""The framework runtime: runs every Filter on every node, then every Score plugin on the
feasible nodes, normalises and weights the scores, and explains failures in upstream's words."""
from __future__ import annotations

import random
from collections import Counter
from typing import Any

from .interface import Code, CycleState, NodeInfo, Obj, Status
from .plugins import FILTERS, SCORES


class FitError(Exception):
    """No node fits; `diagnosis` says why per node, `message` as upstream's FitError.Error()."""

    def __init__(self, pod: Obj, num_nodes: int, diagnosis: dict[str, Status]) -> None:
        self.pod = pod
        self.num_nodes = num_nodes
        self.diagnosis = diagnosis
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.num_nodes == 0:
            return "no nodes available to schedule pods"
        counts: Counter[str] = Counter()
        for st in self.diagnosis.values():
            for r in st.reasons:
                counts[r] += 1
        reasons = sorted(f"{n} {r}" for r, n in counts.items())
        return f"0/{self.num_nodes} nodes are available: {', '.join(reasons)}."


# Upstream's defaults for how many feasible nodes to look for (schedule_one.go).
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes are enough (upstream's numFeasibleNodesToFind).

    In a big cluster the best of the first few hundred feasible nodes is as good as the best of
    all of them, and finding them costs a fraction of the time. `percentage` is
    percentageOfNodesToScore: 0 means adaptive, 50 % minus 1 % per 125 nodes, at least 5 %;
    whatever the percentage, at least 100 nodes (or all of them, if fewer) are looked for.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(BASE_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Framework:
    """One scheduling profile: its Filter plugins in order and its Score plugins with weights.

    It keeps one piece of state across cycles, as upstream's scheduler does: the index the next
    search for feasible nodes starts at, so that with percentageOfNodesToScore below 100 the
    nodes are examined round-robin rather than always the same first ones.
    """

    def __init__(self, filters: list[Any] | None = None, scores: list[tuple[Any, int]] | None = None,
                 percentage_of_nodes_to_score: int = 0) -> None:
        self.filters = [cls() for cls in (filters if filters is not None else FILTERS)]
        self.scores = [(cls(), w) for cls, w in (scores if scores is not None else SCORES)]
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0

    def run_filters(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        """The first failing plugin decides, as upstream's RunFilterPlugins."""
        for p in self.filters:
            st = p.filter(state, pod, node)
            if not st.ok:
                st.plugin = p.name
                return st
        return Status()

    def run_pre_filters(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[Any]:
        """PreFilter: per-pod (and whole-cluster) precomputation, once per attempt. Returns the
        filter plugins still to run per node: those whose PreFilter did not answer SKIP."""
        active = []
        done: set[str] = state.setdefault("_prefiltered", set())
        skipped: set[str] = state.setdefault("_skipped", set())
        for p in self.filters + [s for s, _ in self.scores]:
            pre = getattr(p, "pre_filter", None)
            if pre is not None and p.name not in done:
                done.add(p.name)
                st = pre(state, pod, nodes)
                if st is not None and st.code is Code.SKIP:
                    skipped.add(p.name)
        for p in self.filters:
            if p.name not in skipped:
                active.append(p)
        return active

    def find_nodes_that_fit(self, state: CycleState, pod: Obj, nodes: list[NodeInfo],
                            limit: int | None = None) -> tuple[list[NodeInfo], dict[str, Status]]:
        """Run the filters node by node from the round-robin start until `limit` feasible nodes
        are found (all nodes when None); `diagnosis` explains every node that was rejected."""
        filters = [(p.name, p.filter) for p in self.run_pre_filters(state, pod, nodes)]
        feasible: list[NodeInfo] = []
        diagnosis: dict[str, Status] = {}
        total = len(nodes)
        if total == 0:
            return feasible, diagnosis
        want = total if limit is None else limit
        start = self.next_start_node_index % total
        processed = 0
        for i in range(total):
            n = nodes[(start + i) % total]
            processed += 1
            for name, f in filters:
                st = f(state, pod, n)
                if st.code is not Code.SUCCESS:
                    st.plugin = name
                    diagnosis[n.name] = st
                    break
            else:
                feasible.append(n)
                if len(feasible) >= want:
                    break
        self.next_start_node_index = (start + processed) % total
        return feasible, diagnosis

    def prioritize(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> dict[str, int]:
        totals = {n.name: 0 for n in nodes}
        for plugin, weight in self.scores:
            pre = getattr(plugin, "pre_score", None)
            if pre is not None:
                st = pre(state, pod, nodes)
                if st is not None and st.code is Code.SKIP:
                    continue
            score = plugin.score
            scores = {n.name: score(state, pod, n) for n in nodes}
            plugin.normalize(state, pod, scores)
            for name, s in scores.items():
                totals[name] += s * weight
        return totals

    def schedule(self, pod: Obj, nodes: list[NodeInfo], rng: random.Random | None = None) -> tuple[str, dict[str, int]]:
        """Pick a node for `pod` or raise FitError. Ties go to a random top node (selectHost)."""
        state = CycleState()
        limit = num_feasible_nodes_to_find(len(nodes), self.percentage_of_nodes_to_score)
        feasible, diagnosis = self.find_nodes_that_fit(state, pod, nodes, limit)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        if len(feasible) == 1:
            return feasible[0].name, {feasible[0].name: 0}
        totals = self.prioritize(state, pod, feasible)
        best = max(totals.values())
        top = sorted(n for n, s in totals.items() if s == best)
        return (rng or random).choice(top), totals
