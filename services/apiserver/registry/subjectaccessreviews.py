"""SubjectAccessReviews: may user X do Y? (what webhooks and `kubectl auth can-i --as` style
tools ask). Answered by the authorizer chain for the user in the spec, never stored."""
from __future__ import annotations

from typing import Any

from ..api.models.meta import toplevel
from ..auth.user import UserInfo
from .reviews import AccessStatus, SubjectSpec, attributes_from_spec, decide
from .strategy import Strategy

SubjectAccessReview = toplevel("io.k8s.api.authorization.v1.SubjectAccessReview",
                               "SubjectAccessReview checks whether or not a user or group can perform an action.",
                               spec=SubjectSpec, status=AccessStatus)


class SubjectAccessReviewStrategy(Strategy):
    group, kind, resource, singular = "authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview"
    namespaced = False
    schema = SubjectAccessReview
    verbs = ("create",)
    virtual = True
    security: Any = None

    def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:
        spec = obj.get("spec") or {}
        subject = UserInfo(spec.get("user") or "", spec.get("uid") or "", tuple(spec.get("groups") or ()),
                           {k: tuple(v) for k, v in (spec.get("extra") or {}).items()})
        obj["status"] = decide(self.security, attributes_from_spec(self.kind, spec, subject))
        return obj
