"""NodeName: a pod that names its node fits only that node."""
from __future__ import annotations

from ..interface import SKIP, SUCCESS, CycleState, NodeInfo, Obj, Status

REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        return None if (pod.get("spec") or {}).get("nodeName") else SKIP

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        want = (pod.get("spec") or {}).get("nodeName")
        if not want or want == node.name:
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
