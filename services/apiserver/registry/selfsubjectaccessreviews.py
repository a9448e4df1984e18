"""SelfSubjectAccessReviews (`kubectl auth can-i`): answered by the real authorizer chain, never stored."""
from __future__ import annotations

from typing import Any

from ..api.models import authz
from ..auth.user import anonymous
from .reviews import attributes_from_spec, decide
from .strategy import Strategy


class SelfSubjectAccessReviewStrategy(Strategy):
    group, kind, resource, singular = "authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview"
    namespaced = False
    schema = authz.SelfSubjectAccessReview
    verbs = ("create",)
    virtual = True
    security: Any = None  # set by the APIServer (server/auth.Security)

    def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:
        attrs = attributes_from_spec(self.kind, obj.get("spec") or {}, user or anonymous())
        obj["status"] = decide(self.security, attrs)
        return obj
