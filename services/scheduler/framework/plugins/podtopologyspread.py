"""PodTopologySpread: spread pods over topology domains.

Filter: every `whenUnsatisfiable: DoNotSchedule` constraint must hold on the candidate node:
placing the pod there may not make (pods matching the constraint's labelSelector in its domain)
minus (the fewest in any eligible domain) exceed `maxSkew`. Eligible domains are those of nodes
that carry the topologyKey and match the pod's nodeSelector/required node affinity
(nodeAffinityPolicy Honor, upstream's default); with fewer domains than `minDomains` the minimum
counts as 0.
Score: fewer matching pods in the node's domain is better, for `ScheduleAnyway` constraints -
or, when the pod has no constraints, for the system default (the pods of the same controller
over `kubernetes.io/hostname`).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from kubeling.shared.selectors import match_label_selector, match_labels, match_node_selector

from ..interface import MAX_NODE_SCORE, SKIP, SUCCESS, CycleState, NodeInfo, Obj, Status, controller_ref

REASON = "node(s) didn't match pod topology spread constraints"
MISSING = "node(s) didn't match pod topology spread constraints (missing required label)"
KEY = "PodTopologySpread"


def _constraints(pod: Obj, when: str) -> list[dict[str, Any]]:
    return [c for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
            if (c.get("whenUnsatisfiable") or "DoNotSchedule") == when]


def _labels(n: NodeInfo) -> dict[str, str]:
    return n.labels


def _matches(c: dict[str, Any], pod: Obj, other: Obj) -> bool:
    omd, pmd = other.get("metadata") or {}, pod.get("metadata") or {}
    if omd.get("namespace") != pmd.get("namespace") or c.get("labelSelector") is None:
        return False
    return match_label_selector(c.get("labelSelector"), omd.get("labels") or {})


def _node_fits_pod(pod: Obj, n: NodeInfo) -> bool:
    spec = pod.get("spec") or {}
    if not match_labels(spec.get("nodeSelector"), _labels(n)):
        return False
    req = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    return req is None or match_node_selector(req, n.node)


def _counts(pod: Obj, constraints: list[dict[str, Any]], nodes: list[NodeInfo]) -> list[Counter[str]]:
    out: list[Counter[str]] = []
    for c in constraints:
        tk = c.get("topologyKey", "")
        counts: Counter[str] = Counter()
        for n in nodes:
            labels = _labels(n)
            if tk not in labels or not _node_fits_pod(pod, n):
                continue
            counts[labels[tk]] += sum(1 for o in n.pods.values() if _matches(c, pod, o))
        out.append(counts)
    return out


class PodTopologySpread:
    name = KEY

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        """Count matching pods per domain over all nodes, once; no hard constraint = no Filter."""
        hard = _constraints(pod, "DoNotSchedule")
        soft = _constraints(pod, "ScheduleAnyway")
        state[KEY] = {"hard": hard, "hard_counts": _counts(pod, hard, nodes),
                      "soft": soft, "soft_counts": _counts(pod, soft, nodes)}
        return None if hard else SKIP

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        """Nothing to spread: no constraints and no controller for the system default."""
        s = state.get(KEY)
        if s is None or s["soft"] or s["hard"]:
            return None
        return None if controller_ref(pod) is not None else SKIP

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        s = state.get(KEY)
        if not s or not s["hard"]:
            return SUCCESS
        labels = _labels(node)
        for c, counts in zip(s["hard"], s["hard_counts"]):
            tk = c.get("topologyKey", "")
            if tk not in labels:
                return Status.unschedulable(MISSING, unresolvable=True)
            min_count = min(counts.values()) if counts else 0
            if len(counts) < int(c.get("minDomains") or 1):
                min_count = 0
            self_match = 1 if _matches(c, pod, pod) else 0
            if counts.get(labels[tk], 0) + self_match - min_count > int(c.get("maxSkew") or 1):
                return Status.unschedulable(REASON)
        return SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        s = state.get(KEY)
        if s and s["soft"]:
            labels = _labels(node)
            return sum(counts.get(labels.get(c.get("topologyKey", ""), ""), 0)
                       for c, counts in zip(s["soft"], s["soft_counts"]))
        if s and s["hard"]:
            return 0  # explicit constraints replace the system default
        ref = controller_ref(pod)
        return 0 if ref is None else node.controller_counts.get(ref, 0)  # kept by the cache per node

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        top = max(scores.values(), default=0)
        low = min(scores.values(), default=0)
        for k, v in scores.items():
            scores[k] = MAX_NODE_SCORE if top == low else MAX_NODE_SCORE * (top - v) // (top - low)
