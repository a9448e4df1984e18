"""SelfSubjectReviews (`kubectl auth whoami`): who the apiserver thinks the caller is; never stored."""
from __future__ import annotations

from typing import Any

from ..api.models import authz
from .strategy import Strategy


class SelfSubjectReviewStrategy(Strategy):
    group, kind, resource, singular = "authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview"
    namespaced = False
    schema = authz.SelfSubjectReview
    verbs = ("create",)
    virtual = True

    def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:
        if user is None:  # no --token-auth-file: requests are anonymous
            info = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
        else:
            info = {"username": user.name, "uid": user.uid, "groups": [*user.groups, "system:authenticated"]}
        obj["status"] = {"userInfo": info}
        return obj
