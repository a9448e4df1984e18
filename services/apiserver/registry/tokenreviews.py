"""TokenReviews (authentication.k8s.io/v1): is this bearer token valid, and whose is it?
Answered by the apiserver's own authenticator chain (static tokens, ServiceAccount tokens), never stored."""
from __future__ import annotations

from typing import Any

from ..api.models.meta import toplevel
from ..api.schema import A, B, M, O, S
from .strategy import Strategy

TokenReview = toplevel(
    "io.k8s.api.authentication.v1.TokenReview",
    "TokenReview attempts to authenticate a token to a known user.",
    spec=O(None, {"token": S(), "audiences": A(S())}),
    status=O(None, {"authenticated": B(), "user": O(None, {"username": S(), "uid": S(), "groups": A(S()), "extra": M(A(S()))}),
                    "audiences": A(S()), "error": S()}))


class TokenReviewStrategy(Strategy):
    group, kind, resource, singular = "authentication.k8s.io", "TokenReview", "tokenreviews", "tokenreview"
    namespaced = False
    schema = TokenReview
    verbs = ("create",)
    virtual = True
    security: Any = None

    async def review(self, obj: dict[str, Any], user: Any) -> dict[str, Any]:  # type: ignore[override]
        spec = obj.get("spec") or {}
        token = spec.get("token") or ""
        who = None
        if token and self.security is not None:
            authn = self.security.authn
            if spec.get("audiences") and authn.service_accounts is not None and authn.lookup is not None:
                from ..auth.serviceaccount import TokenInvalid
                try:
                    who = await authn.service_accounts.authenticate(token, authn.lookup, list(spec["audiences"]))
                except TokenInvalid:
                    who = None
            else:
                who = await authn.token_user(token)
        if who is None:
            obj["status"] = {"authenticated": False, "error": "invalid bearer token"} if token else {"authenticated": False}
        else:
            obj["status"] = {"authenticated": True, "user": who.to_status(),
                             "audiences": list(spec.get("audiences") or (self.security.authn.audiences or []))}
        return obj
