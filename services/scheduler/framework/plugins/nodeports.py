"""NodePorts: a hostPort can be taken once per node, protocol and address (0.0.0.0 conflicts
with every address)."""
from __future__ import annotations

from ..interface import SKIP, SUCCESS, CycleState, NodeInfo, Obj, Status, host_ports

REASON = "node(s) didn't have free ports for the requested pod ports"


def _conflict(a: tuple[str, str, int], b: tuple[str, str, int]) -> bool:
    if a[1] != b[1] or a[2] != b[2]:
        return False
    return a[0] == b[0] or "0.0.0.0" in (a[0], b[0])


class NodePorts:
    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        ports = state["NodePorts"] = host_ports(pod)
        return None if ports else SKIP

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        wanted = state["NodePorts"] if "NodePorts" in state else host_ports(pod)
        for want in wanted:
            if any(_conflict(want, used) for used in node.used_ports):
                return Status.unschedulable(REASON)
        return SUCCESS
