"""NodeAffinity: `nodeSelector` and requiredDuringSchedulingIgnoredDuringExecution must both
hold (Filter); the weights of matching preferred terms add up to the node's score."""
from __future__ import annotations

from kubeling.shared.selectors import match_labels, match_node_selector, match_node_selector_term

from ..interface import SUCCESS, CycleState, NodeInfo, Obj, Status, default_normalize

REASON = "node(s) didn't match Pod's node affinity/selector"


def _affinity(pod: Obj) -> dict:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


class NodeAffinity:
    name = "NodeAffinity"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        labels = (node.node.get("metadata") or {}).get("labels") or {}
        if not match_labels((pod.get("spec") or {}).get("nodeSelector"), labels):
            return Status.unschedulable(REASON, unresolvable=True)
        required = _affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is not None and not match_node_selector(required, node.node):
            return Status.unschedulable(REASON, unresolvable=True)
        return SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        total = 0
        for pref in _affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            w = int(pref.get("weight") or 0)
            if w and match_node_selector_term(pref.get("preference") or {}, node.node):
                total += w
        return total

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        default_normalize(scores)
