"""PodTopologySpread with the system default constraint only (kubernetes.io/hostname,
ScheduleAnyway): spread the pods of one controller (same controller ownerReference) over nodes.

A node's raw score is how many of the controller's pods it already runs; normalisation turns
fewer into better. Pods with no controller get the same score everywhere.
"""
from __future__ import annotations

from ..interface import MAX_NODE_SCORE, CycleState, NodeInfo, Obj


def controller_uid(pod: Obj) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


class PodTopologySpread:
    name = "PodTopologySpread"

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        uid = controller_uid(pod)
        if uid is None:
            return 0
        ns = (pod.get("metadata") or {}).get("namespace")
        return sum(1 for p in node.pods.values()
                   if controller_uid(p) == uid and (p.get("metadata") or {}).get("namespace") == ns)

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        top = max(scores.values(), default=0)
        low = min(scores.values(), default=0)
        for k, v in scores.items():
            scores[k] = MAX_NODE_SCORE if top == low else MAX_NODE_SCORE * (top - v) // (top - low)
