"""SelfSubjectAccessReviews (`kubectl auth can-i`): answered, never stored.

kubeling does not enforce authorization yet, so every authenticated request is allowed and the
review says so, with the reason, rather than pretending to evaluate RBAC.
"""
from __future__ import annotations

from typing import Any

from ..api.models import authz
from .strategy import Strategy


class SelfSubjectAccessReviewStrategy(Strategy):
    group, kind, resource, singular = "authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview"
    namespaced = False
    schema = authz.SelfSubjectAccessReview
    verbs = ("create",)
    virtual = True

    def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:
        obj["status"] = {"allowed": True, "reason": "kubeling does not enforce authorization: every authenticated request is allowed"}
        return obj
