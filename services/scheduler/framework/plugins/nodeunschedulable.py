"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods that tolerate
node.kubernetes.io/unschedulable:NoSchedule (DaemonSet pods do)."""
from __future__ import annotations

from ..interface import SUCCESS, CycleState, NodeInfo, Obj, Status
from .tainttoleration import tolerates

REASON = "node(s) were unschedulable"
TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        if not node.unschedulable:
            return SUCCESS
        if tolerates((pod.get("spec") or {}).get("tolerations") or [], TAINT):
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
