"""SelfSubjectReviews (`kubectl auth whoami`): who the apiserver thinks the caller is; never stored."""
from __future__ import annotations

from typing import Any

from ..api.models import authz
from ..auth.user import anonymous
from .strategy import Strategy


class SelfSubjectReviewStrategy(Strategy):
    group, kind, resource, singular = "authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview"
    namespaced = False
    schema = authz.SelfSubjectReview
    verbs = ("create",)
    virtual = True

    def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:
        obj["status"] = {"userInfo": (user or anonymous()).to_status()}
        return obj
