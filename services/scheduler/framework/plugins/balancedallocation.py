"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in similar
proportions after placing the pod, so that neither runs out while the other idles.
Score = (1 - standard deviation of the fractions) * 100, as upstream; for the two resources
the standard deviation is half their difference (upstream's shortcut for two)."""
from __future__ import annotations

from ..interface import MAX_NODE_SCORE, CycleState, NodeInfo, Obj, cycle_requests


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        req = cycle_requests(state, pod)[1]
        alloc, used = node.allocatable, node.non_zero_requested
        if not alloc.milli_cpu or not alloc.memory:
            return MAX_NODE_SCORE  # fewer than two resources to balance
        cpu = min((used.milli_cpu + req.milli_cpu) / alloc.milli_cpu, 1.0)
        mem = min((used.memory + req.memory) / alloc.memory, 1.0)
        return int((1 - abs(cpu - mem) / 2) * MAX_NODE_SCORE)

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        pass
