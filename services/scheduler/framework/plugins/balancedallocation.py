"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in similar
proportions after placing the pod, so that neither runs out while the other idles.
Score = (1 - standard deviation of the fractions) * 100, as upstream."""
from __future__ import annotations

import math

from ..interface import MAX_NODE_SCORE, CycleState, NodeInfo, Obj, pod_requests


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        req = pod_requests(pod, non_zero=True)
        fractions = []
        for alloc, used, want in ((node.allocatable.milli_cpu, node.non_zero_requested.milli_cpu, req.milli_cpu),
                                  (node.allocatable.memory, node.non_zero_requested.memory, req.memory)):
            if alloc:
                fractions.append(min((used + want) / alloc, 1.0))
        if len(fractions) < 2:
            return MAX_NODE_SCORE
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        return int((1 - std) * MAX_NODE_SCORE)

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        pass
