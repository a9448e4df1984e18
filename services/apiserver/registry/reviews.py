"""Shared pieces of the access-review kinds (authorization.k8s.io/v1): the spec schema, and
turning a review's resourceAttributes / nonResourceAttributes into authorizer Attributes."""
from __future__ import annotations

from typing import Any

from ..api.errors import StatusError
from ..api.models.authz import ResourceAttributes
from ..api.schema import A, B, M, O, S
from ..auth.attributes import Attributes
from ..auth.user import UserInfo

NonResourceAttributes = O(None, {"path": S(), "verb": S()})
AccessStatus = O(None, {"allowed": B(), "denied": B(), "reason": S(), "evaluationError": S()})
SubjectSpec = O(None, {"resourceAttributes": ResourceAttributes, "nonResourceAttributes": NonResourceAttributes,
                       "user": S(), "groups": A(S()), "uid": S(), "extra": M(A(S()))})


def attributes_from_spec(kind: str, spec: dict[str, Any], user: UserInfo) -> Attributes:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(ra) == bool(nra):
        raise StatusError(422, "Invalid", f"{kind}.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: "
                                          "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
                          {"kind": kind, "group": "authorization.k8s.io", "causes": [{"reason": "FieldValueInvalid", "field": "spec.resourceAttributes"}]})
    if nra:
        return Attributes(user=user, verb=nra.get("verb") or "", resource_request=False, path=nra.get("path") or "")
    return Attributes(user=user, verb=ra.get("verb") or "", resource_request=True, namespace=ra.get("namespace") or "",
                      api_group=ra.get("group") or "", api_version=ra.get("version") or "", resource=ra.get("resource") or "",
                      subresource=ra.get("subresource") or "", name=ra.get("name") or "")


def decide(security: Any, attrs: Attributes) -> dict[str, Any]:
    """The status of an access review: the real decision of the configured authorizers."""
    if security is None or security.authz.always_allow:
        return {"allowed": True, "reason": "the apiserver runs with --authorization-mode=AlwaysAllow"}
    allowed, reason = security.authz.authorize(attrs)
    out: dict[str, Any] = {"allowed": allowed}
    if reason:
        out["reason"] = reason
    return out
