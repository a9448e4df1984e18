"""InterPodAffinity: pod affinity and anti-affinity over topology domains.

Filter (required terms): the pod's affinity terms need a matching pod in the candidate node's
domain (`topologyKey` value) - except for the first pod of a group that matches its own terms;
its anti-affinity terms forbid a matching pod in that domain; and existing pods' anti-affinity
terms that match the incoming pod forbid their domains too (symmetry).
Score (preferred terms): +weight for each matching pod in the node's domain under an affinity
term, -weight under an anti-affinity term; normalised min-max to 0-100.
The per-domain counts are computed once per attempt over all nodes (PreFilter), as upstream.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from kubeling.shared.selectors import match_label_selector

from ..interface import MAX_NODE_SCORE, SKIP, SUCCESS, CycleState, NodeInfo, Obj, Status

AFFINITY = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
KEY = "InterPodAffinity"


def _terms(pod: Obj, kind: str, mode: str) -> list[dict[str, Any]]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return list(aff.get(f"{mode}DuringSchedulingIgnoredDuringExecution") or [])


def term_matches(term: dict[str, Any], owner: Obj, target: Obj) -> bool:
    """Does `target` fall under `owner`'s term (namespaces, then labelSelector)?"""
    tmd = target.get("metadata") or {}
    namespaces = term.get("namespaces") or []
    if term.get("namespaceSelector") == {}:
        pass  # an empty namespaceSelector means every namespace
    elif namespaces:
        if tmd.get("namespace") not in namespaces:
            return False
    elif tmd.get("namespace") != (owner.get("metadata") or {}).get("namespace"):
        return False
    if term.get("labelSelector") is None:
        return False  # a term without a selector matches no pod
    return match_label_selector(term.get("labelSelector"), tmd.get("labels") or {})


def _labels(n: NodeInfo) -> dict[str, str]:
    return n.labels


class InterPodAffinity:
    name = KEY

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        """Per-domain counts over all nodes, once per attempt. The pod's own terms need every
        pod; existing pods' anti-affinity only the pods that have some, which each NodeInfo
        keeps apart (upstream's PodsWithRequiredAntiAffinity). Nothing to check: SKIP."""
        aff = _terms(pod, "podAffinity", "required")
        anti = _terms(pod, "podAntiAffinity", "required")
        pref = [(t.get("podAffinityTerm") or {}, int(t.get("weight") or 0), 1) for t in _terms(pod, "podAffinity", "preferred")]
        pref += [(t.get("podAffinityTerm") or {}, int(t.get("weight") or 0), -1)
                 for t in _terms(pod, "podAntiAffinity", "preferred")]
        aff_counts: list[Counter[str]] = [Counter() for _ in aff]
        anti_domains: set[tuple[str, str]] = set()
        existing_anti: set[tuple[str, str]] = set()
        pref_score: Counter[tuple[str, str]] = Counter()
        any_aff_match = False
        own_terms = bool(aff or anti or pref)
        # A Snapshot knows which nodes hold pods with required anti-affinity; a plain list is scanned.
        with_anti = getattr(nodes, "have_pods_with_required_anti_affinity", None)
        for n in nodes if own_terms or with_anti is None else with_anti:
            labels = _labels(n)
            for other in n.pods_with_required_anti_affinity.values():
                for t in _terms(other, "podAntiAffinity", "required"):
                    tk = t.get("topologyKey", "")
                    if tk in labels and term_matches(t, other, pod):
                        existing_anti.add((tk, labels[tk]))
            if not own_terms:
                continue
            for other in n.pods.values():
                for i, t in enumerate(aff):
                    if term_matches(t, pod, other):
                        any_aff_match = True
                        tk = t.get("topologyKey", "")
                        if tk in labels:
                            aff_counts[i][labels[tk]] += 1
                for t in anti:
                    tk = t.get("topologyKey", "")
                    if tk in labels and term_matches(t, pod, other):
                        anti_domains.add((tk, labels[tk]))
                for t, w, sign in pref:
                    tk = t.get("topologyKey", "")
                    if w and tk in labels and term_matches(t, pod, other):
                        pref_score[(tk, labels[tk])] += sign * w
        self_match = all(term_matches(t, pod, pod) for t in aff)
        state[KEY] = {"aff": aff, "anti": anti, "aff_counts": aff_counts, "anti_domains": anti_domains,
                      "existing_anti": existing_anti, "pref": pref_score,
                      "first_of_group": bool(aff) and not any_aff_match and self_match}
        return None if (aff or anti or existing_anti) else SKIP

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None:
        s = state.get(KEY)
        return None if s is None or s["pref"] else SKIP

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        s = state.get(KEY)
        if s is None:
            return SUCCESS
        labels = _labels(node)
        # upstream's order: the pod's affinity, then its anti-affinity, then existing pods' anti-affinity
        if s["aff"] and not s["first_of_group"]:
            for i, t in enumerate(s["aff"]):
                tk = t.get("topologyKey", "")
                if tk not in labels or not s["aff_counts"][i].get(labels[tk]):
                    return Status.unschedulable(AFFINITY)
        elif s["aff"]:
            if any(t.get("topologyKey", "") not in _labels(node) for t in s["aff"]):
                return Status.unschedulable(AFFINITY)
        for t in s["anti"]:
            tk = t.get("topologyKey", "")
            if tk in labels and (tk, labels[tk]) in s["anti_domains"]:
                return Status.unschedulable(ANTI)
        if any(labels.get(tk) == v for tk, v in s["existing_anti"]):
            return Status.unschedulable(EXISTING_ANTI)
        return SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        s = state.get(KEY)
        if not s or not s["pref"]:
            return 0
        labels = _labels(node)
        return sum(v for (tk, val), v in s["pref"].items() if labels.get(tk) == val)

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None:
        if not scores:
            return
        top, low = max(scores.values()), min(scores.values())
        for k, v in scores.items():
            scores[k] = 0 if top == low else MAX_NODE_SCORE * (v - low) // (top - low)
