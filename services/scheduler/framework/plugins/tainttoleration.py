"""TaintToleration: NoSchedule/NoExecute taints repel pods that do not tolerate them (Filter);
PreferNoSchedule taints only lower a node's score (Score, normalised in reverse)."""
from __future__ import annotations

from typing import Any

from ..interface import SUCCESS, CycleState, NodeInfo, Obj, Status, default_normalize

KEY = "TaintToleration"


def toleration_matches(tol: dict[str, Any], taint: dict[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint: effect (empty = all), key (empty with Exists = all), value."""
    if tol.get("effect") and tol["effect"] != taint.get("effect"):
        return False
    if tol.get("key") and tol["key"] != taint.get("key"):
        return False
    op = tol.get("operator") or "Equal"
    if op == "Exists":
        return True
    if not tol.get("key"):
        return False  # an empty key is only valid with Exists
    return (tol.get("value") or "") == (taint.get("value") or "")


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    return any(toleration_matches(t, taint) for t in tolerations)


def taint_string(taint: dict[str, Any]) -> str:
    return "{%s: %s}" % (taint.get("key", ""), taint.get("value", ""))


class TaintToleration:
    name = KEY

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        tols = (pod.get("spec") or {}).get("tolerations") or []
        state[KEY] = tols
        return None

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        if not node.hard_taints:
            return SUCCESS
        tols = state[KEY] if KEY in state else (pod.get("spec") or {}).get("tolerations") or []
        for taint in node.hard_taints:
            if not tolerates(tols, taint):
                return Status.unschedulable(f"node(s) had untolerated taint {taint_string(taint)}", unresolvable=True)
        return SUCCESS

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        state[KEY + "/prefer"] = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                                  if not t.get("effect") or t.get("effect") == "PreferNoSchedule"]
        return None

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        if not node.prefer_no_schedule_taints:
            return 0
        tols = state.get(KEY + "/prefer")
        if tols is None:
            tols = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                    if not t.get("effect") or t.get("effect") == "PreferNoSchedule"]
        return sum(1 for taint in node.prefer_no_schedule_taints if not tolerates(tols, taint))

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        default_normalize(scores, reverse=True)
