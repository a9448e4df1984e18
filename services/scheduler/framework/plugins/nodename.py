"""NodeName: a pod that names its node fits only that node."""
from __future__ import annotations

from ..interface import SUCCESS, CycleState, NodeInfo, Obj, Status

REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        want = (pod.get("spec") or {}).get("nodeName")
        if not want or want == node.name:
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
