"""ServiceAccount tokens: bound, expiring JWTs, issued by TokenRequest and checked on every request.

Claims follow upstream's bound tokens (`kubectl create token` shows the same shape): iss, sub =
system:serviceaccount:<ns>:<name>, aud, iat/nbf/exp, jti, and a `kubernetes.io` claim naming the
namespace, the account and its UID (and the pod when the token is bound to one). A token stays
valid only while the account (and pod) with that UID exists: deleting the account revokes it.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .jwt import JWTError, PublicKey, Signer, verify
from .user import (
    UserInfo,
    service_account_groups,
    service_account_user,
    with_authenticated,
)

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
MIN_EXPIRATION = 600  # upstream: "may not specify a duration less than 10 minutes"
LEEWAY = 60  # clock skew tolerated on nbf/exp, as upstream's validator

Lookup = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]  # (resource, namespace, name) -> object


class TokenInvalid(Exception):
    """Why a token was refused (logged, never shown to the client beyond `Unauthorized`)."""


@dataclass
class Issuer:
    signer: Signer
    issuer: str = DEFAULT_ISSUER
    audiences: list[str] = field(default_factory=lambda: [DEFAULT_ISSUER])
    max_expiration: int = 86400

    def issue(self, namespace: str, sa: dict[str, Any], audiences: list[str] | None, expiration: int,
              bound: dict[str, Any] | None = None) -> tuple[str, int]:
        """A signed token for account `sa`; returns (token, expiry as a Unix time)."""
        now = int(time.time())
        exp = now + min(expiration, self.max_expiration)
        md = sa.get("metadata") or {}
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": md.get("name", ""), "uid": md.get("uid", "")}}
        if bound and bound.get("kind") == "Pod":
            k8s["pod"] = {"name": bound.get("name", ""), "uid": bound.get("uid", "")}
        claims = {"aud": list(audiences or self.audiences), "exp": exp, "iat": now, "iss": self.issuer,
                  "jti": str(uuid.uuid4()), "kubernetes.io": k8s, "nbf": now,
                  "sub": service_account_user(namespace, md.get("name", ""))}
        return self.signer.sign(claims), exp


@dataclass
class Verifier:
    keys: list[PublicKey]
    issuers: list[str] = field(default_factory=lambda: [DEFAULT_ISSUER])
    audiences: list[str] = field(default_factory=lambda: [DEFAULT_ISSUER])

    async def authenticate(self, token: str, lookup: Lookup, audiences: list[str] | None = None) -> UserInfo:
        """The account's user for a valid token; TokenInvalid (with the reason) otherwise."""
        try:
            claims = verify(token, self.keys)
        except JWTError as e:
            raise TokenInvalid(str(e)) from None
        if claims.get("iss") not in self.issuers:
            raise TokenInvalid("token issuer is not trusted")
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        want = audiences or self.audiences
        if not set(aud) & set(want):
            raise TokenInvalid("token audiences do not match")
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
        if not isinstance(exp, (int, float)) or now > exp + LEEWAY:
            raise TokenInvalid("Token has expired.")
        if isinstance(nbf, (int, float)) and now + LEEWAY < nbf:
            raise TokenInvalid("token used before issued")
        k8s = claims.get("kubernetes.io")
        sub = claims.get("sub") or ""
        if not isinstance(k8s, dict) or not isinstance(k8s.get("serviceaccount"), dict):
            raise TokenInvalid("token has no kubernetes.io claim")
        ns, sa = k8s.get("namespace") or "", k8s["serviceaccount"]
        name, uid = sa.get("name") or "", sa.get("uid") or ""
        if not ns or not name or sub != service_account_user(ns, name):
            raise TokenInvalid("token subject does not match its kubernetes.io claim")
        account = await lookup("serviceaccounts", ns, name)
        if account is None:
            raise TokenInvalid(f"service account {ns}/{name} has been deleted")
        if (account.get("metadata") or {}).get("uid") != uid:
            raise TokenInvalid(f"service account UID ({(account.get('metadata') or {}).get('uid')}) does not match claim ({uid})")
        extra: dict[str, tuple[str, ...]] = {}
        pod = k8s.get("pod")
        if isinstance(pod, dict) and pod.get("name"):
            obj = await lookup("pods", ns, pod["name"])
            if obj is None or (obj.get("metadata") or {}).get("uid") != pod.get("uid"):
                raise TokenInvalid(f"pod {ns}/{pod['name']} bound to the token no longer exists")
            extra["authentication.kubernetes.io/pod-name"] = (pod["name"],)
            extra["authentication.kubernetes.io/pod-uid"] = (pod.get("uid", ""),)
        if claims.get("jti"):
            extra["authentication.kubernetes.io/credential-id"] = (f"JTI={claims['jti']}",)
        return with_authenticated(UserInfo(sub, uid, service_account_groups(ns), extra))
