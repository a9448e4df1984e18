"""Matching labels against meta/v1 LabelSelectors and core/v1 NodeSelectorTerms.

Components need the object forms only (a pod's nodeSelector, its affinity terms, a Service's
selector); the query-string grammar belongs to the apiserver.
"""
from __future__ import annotations

from typing import Any, Mapping


def match_labels(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """A plain map selector (`nodeSelector`, a Service's `selector`): every pair must be present."""
    labels = labels or {}
    return all(labels.get(k) == str(v) for k, v in (selector or {}).items())


def _expr(key: str, op: str, values: list[str], labels: Mapping[str, str]) -> bool:
    has = key in labels
    v = labels.get(key)
    if op == "In":
        return has and v in values
    if op == "NotIn":
        return not has or v not in values
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt"):
        # Gt/Lt compare integers; a missing or non-integer label never matches (upstream).
        if not has or len(values) != 1:
            return False
        try:
            a, b = int(v), int(values[0])  # type: ignore[arg-type]
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def match_label_selector(selector: dict[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """meta/v1 LabelSelector: matchLabels AND matchExpressions. None/empty matches everything."""
    labels = labels or {}
    if not selector:
        return True
    if not match_labels(selector.get("matchLabels"), labels):
        return False
    return all(_expr(e.get("key", ""), e.get("operator", ""), list(e.get("values") or []), labels)
               for e in selector.get("matchExpressions") or [])


def match_node_selector_term(term: dict[str, Any], node: dict[str, Any]) -> bool:
    """One NodeSelectorTerm: its matchExpressions (labels) AND matchFields (only metadata.name).

    An empty term matches nothing, as upstream's nodeaffinity helper says.
    """
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not all(_expr(e.get("key", ""), e.get("operator", ""), list(e.get("values") or []), labels) for e in exprs):
        return False
    name_fields = {"metadata.name": (node.get("metadata") or {}).get("name", "")}
    return all(_expr(f.get("key", ""), f.get("operator", ""), list(f.get("values") or []), name_fields) for f in fields)


def match_node_selector(selector: dict[str, Any] | None, node: dict[str, Any]) -> bool:
    """A NodeSelector: the terms are ORed."""
    terms = (selector or {}).get("nodeSelectorTerms") or []
    return any(match_node_selector_term(t, node) for t in terms)
