"""NodePorts: a hostPort can be taken once per node, protocol and address (0.0.0.0 conflicts
with every address)."""
from __future__ import annotations

from ..interface import SUCCESS, CycleState, NodeInfo, Obj, Status, host_ports

REASON = "node(s) didn't have free ports for the requested pod ports"


def _conflict(a: tuple[str, str, int], b: tuple[str, str, int]) -> bool:
    if a[1] != b[1] or a[2] != b[2]:
        return False
    return a[0] == b[0] or "0.0.0.0" in (a[0], b[0])


class NodePorts:
    name = "NodePorts"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        for want in host_ports(pod):
            if any(_conflict(want, used) for used in node.used_ports):
                return Status.unschedulable(REASON)
        return SUCCESS
