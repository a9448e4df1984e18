"""NodeResourcesFit: requests must fit into allocatable minus what the node's pods (including
assumed ones) already request, and the pod count into `pods` (Filter). Its score is the
LeastAllocated strategy, upstream's default: prefer the node with the most room left."""
from __future__ import annotations

from ..interface import MAX_NODE_SCORE, SUCCESS, CycleState, NodeInfo, Obj, Status, pod_requests


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        reasons: list[str] = []
        if len(node.pods) + 1 > node.allowed_pods:
            reasons.append("Too many pods")
        req = pod_requests(pod)
        if req.milli_cpu and req.milli_cpu > node.allocatable.milli_cpu - node.requested.milli_cpu:
            reasons.append("Insufficient cpu")
        if req.memory and req.memory > node.allocatable.memory - node.requested.memory:
            reasons.append("Insufficient memory")
        for name, amount in sorted(req.scalar.items()):
            if amount and amount > node.allocatable.scalar.get(name, 0) - node.requested.scalar.get(name, 0):
                reasons.append(f"Insufficient {name}")
        return Status.unschedulable(*reasons) if reasons else SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        """LeastAllocated over cpu and memory, weight 1 each."""
        req = pod_requests(pod, non_zero=True)
        parts = []
        for alloc, used, want in ((node.allocatable.milli_cpu, node.non_zero_requested.milli_cpu, req.milli_cpu),
                                  (node.allocatable.memory, node.non_zero_requested.memory, req.memory)):
            total = used + want
            parts.append(0 if alloc == 0 or total > alloc else (alloc - total) * MAX_NODE_SCORE // alloc)
        return sum(parts) // len(parts)

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        pass  # already on the 0..100 scale
