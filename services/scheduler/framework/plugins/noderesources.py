"""NodeResourcesFit: requests must fit into allocatable minus what the node's pods (including
assumed ones) already request, and the pod count into `pods` (Filter). Its score is the
LeastAllocated strategy, upstream's default: prefer the node with the most room left.

The pod's requests are computed once per attempt (PreFilter), the node's totals are kept by
the cache as pods come and go: a node costs a few comparisons, not a walk over its pods."""
from __future__ import annotations

from ..interface import MAX_NODE_SCORE, SUCCESS, CycleState, NodeInfo, Obj, Status, cycle_requests


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        cycle_requests(state, pod)
        return None

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        req = cycle_requests(state, pod)[0]
        alloc, used = node.allocatable, node.requested
        if (len(node.pods) + 1 <= node.allowed_pods and req.milli_cpu <= alloc.milli_cpu - used.milli_cpu
                and req.memory <= alloc.memory - used.memory and not req.scalar):
            return SUCCESS  # the common case, without building a list of reasons
        reasons: list[str] = []
        if len(node.pods) + 1 > node.allowed_pods:
            reasons.append("Too many pods")
        if req.milli_cpu and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
            reasons.append("Insufficient cpu")
        if req.memory and req.memory > alloc.memory - used.memory:
            reasons.append("Insufficient memory")
        for name, amount in sorted(req.scalar.items()):
            if amount and amount > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
                reasons.append(f"Insufficient {name}")
        return Status.unschedulable(*reasons) if reasons else SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        """LeastAllocated over cpu and memory, weight 1 each."""
        req = cycle_requests(state, pod)[1]
        alloc, used = node.allocatable, node.non_zero_requested
        total = used.milli_cpu + req.milli_cpu
        cpu = 0 if alloc.milli_cpu == 0 or total > alloc.milli_cpu else (alloc.milli_cpu - total) * MAX_NODE_SCORE // alloc.milli_cpu
        total = used.memory + req.memory
        mem = 0 if alloc.memory == 0 or total > alloc.memory else (alloc.memory - total) * MAX_NODE_SCORE // alloc.memory
        return (cpu + mem) // 2

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        pass  # already on the 0..100 scale
