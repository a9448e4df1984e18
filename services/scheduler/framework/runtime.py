"""The framework runtime: runs every Filter on every node, then every Score plugin on the
feasible nodes, normalises and weights the scores, and explains failures in upstream's words."""
from __future__ import annotations

import random
from collections import Counter
from typing import Any

from .interface import CycleState, NodeInfo, Obj, Status
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


class Framework:
    def __init__(self, filters: list[Any] | None = None, scores: list[tuple[Any, int]] | None = None) -> None:
        self.filters = [cls() for cls in (filters if filters is not None else FILTERS)]
        self.scores = [(cls(), w) for cls, w in (scores if scores is not None else SCORES)]

    def run_filters(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        """The first failing plugin decides, as upstream's RunFilterPlugins."""
        for p in self.filters:
            st = p.filter(state, pod, node)
            if not st.ok:
                st.plugin = p.name
                return st
        return Status()

    def find_nodes_that_fit(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> tuple[list[NodeInfo], dict[str, Status]]:
        for p in self.filters + [s for s, _ in self.scores]:  # PreFilter: whole-cluster precomputation
            pre = getattr(p, "pre_filter", None)
            if pre is not None and p.name not in state.setdefault("_prefiltered", set()):
                state["_prefiltered"].add(p.name)
                pre(state, pod, nodes)
        feasible: list[NodeInfo] = []
        diagnosis: dict[str, Status] = {}
        for n in nodes:
            st = self.run_filters(state, pod, n)
            if st.ok:
                feasible.append(n)
            else:
                diagnosis[n.name] = st
        return feasible, diagnosis

    def prioritize(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> dict[str, int]:
        totals = {n.name: 0 for n in nodes}
        for plugin, weight in self.scores:
            scores = {n.name: plugin.score(state, pod, n) for n in nodes}
            plugin.normalize(state, pod, scores)
            for name, s in scores.items():
                totals[name] += s * weight
        return totals

    def schedule(self, pod: Obj, nodes: list[NodeInfo], rng: random.Random | None = None) -> tuple[str, dict[str, int]]:
        """Pick a node for `pod` or raise FitError. Ties go to a random top node (selectHost)."""
        state = CycleState()
        feasible, diagnosis = self.find_nodes_that_fit(state, pod, nodes)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        if len(feasible) == 1:
            return feasible[0].name, {feasible[0].name: 0}
        totals = self.prioritize(state, pod, feasible)
        best = max(totals.values())
        top = sorted(n for n, s in totals.items() if s == best)
        return (rng or random).choice(top), totals
