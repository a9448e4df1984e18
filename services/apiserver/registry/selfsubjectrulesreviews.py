"""SelfSubjectRulesReviews (`kubectl auth can-i --list`): the rules that apply to the caller in a namespace."""
from __future__ import annotations

from typing import Any

from ..api.models.meta import toplevel
from ..api.schema import A, B, O, S
from ..auth.node import NODE_RULES
from ..auth.user import MASTERS, anonymous, node_name
from .strategy import Strategy

ResourceRule = O(None, {"verbs": A(S()), "apiGroups": A(S()), "resources": A(S()), "resourceNames": A(S())})
NonResourceRule = O(None, {"verbs": A(S()), "nonResourceURLs": A(S())})
SelfSubjectRulesReview = toplevel(
    "io.k8s.api.authorization.v1.SelfSubjectRulesReview",
    "SelfSubjectRulesReview enumerates the set of actions the current user can perform within a namespace.",
    spec=O(None, {"namespace": S()}),
    status=O(None, {"resourceRules": A(ResourceRule), "nonResourceRules": A(NonResourceRule), "incomplete": B(), "evaluationError": S()}))

_ALL = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]


class SelfSubjectRulesReviewStrategy(Strategy):
    group, kind, resource, singular = "authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview"
    namespaced = False
    schema = SelfSubjectRulesReview
    verbs = ("create",)
    virtual = True
    security: Any = None

    def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:
        user = user or anonymous()
        ns = (obj.get("spec") or {}).get("namespace") or ""
        authz = self.security.authz if self.security is not None else None
        if authz is None or "AlwaysAllow" in authz.modes or MASTERS in user.groups:
            obj["status"] = {"resourceRules": _ALL, "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
            return obj
        rules = list(authz.rbac.applicable_rules(user, ns)) if authz.rbac else []
        if authz.node and node_name(user):
            rules += NODE_RULES
        res = [{k: r[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if r.get(k)} for r in rules if not r.get("nonResourceURLs")]
        nonres = [{"verbs": r["verbs"], "nonResourceURLs": r["nonResourceURLs"]} for r in rules if r.get("nonResourceURLs")]
        # the Node authorizer's object-by-object decisions cannot be listed as rules
        obj["status"] = {"resourceRules": res, "nonResourceRules": nonres, "incomplete": bool(authz.node and node_name(user))}
        return obj
