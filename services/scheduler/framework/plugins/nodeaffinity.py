"""NodeAffinity: `nodeSelector` and requiredDuringSchedulingIgnoredDuringExecution must both
hold (Filter); the weights of matching preferred terms add up to the node's score."""
from __future__ import annotations

from kubeling.shared.selectors import match_labels, match_node_selector, match_node_selector_term

from ..interface import SKIP, SUCCESS, CycleState, NodeInfo, Obj, Status, default_normalize

REASON = "node(s) didn't match Pod's node affinity/selector"


def _affinity(pod: Obj) -> dict:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


class NodeAffinity:
    name = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        """Nothing to check for a pod with neither a nodeSelector nor required node affinity."""
        selector = (pod.get("spec") or {}).get("nodeSelector")
        required = _affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        if not selector and required is None:
            return SKIP
        state["NodeAffinity"] = (selector, required)
        return None

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        pre = state.get("NodeAffinity")
        if pre is None:
            pre = ((pod.get("spec") or {}).get("nodeSelector"),
                   _affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution"))
        selector, required = pre
        if selector and not match_labels(selector, node.labels):
            return Status.unschedulable(REASON, unresolvable=True)
        if required is not None and not match_node_selector(required, node.node):
            return Status.unschedulable(REASON, unresolvable=True)
        return SUCCESS

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        return None if _affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") else SKIP

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        total = 0
        for pref in _affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            w = int(pref.get("weight") or 0)
            if w and match_node_selector_term(pref.get("preference") or {}, node.node):
                total += w
        return total

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        default_normalize(scores)
