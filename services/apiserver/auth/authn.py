"""The authenticator chain: X.509 client certificate, then bearer token (static file, then
ServiceAccount JWT), then anonymous, in kube-apiserver's order.

A request that presents a credential which does not verify gets 401 even when anonymous
requests are allowed: a wrong password is not the same as no password (upstream behaves so).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..api.errors import StatusError
from .jwt import looks_like_jwt
from .serviceaccount import Lookup, TokenInvalid, Verifier
from .user import UserInfo, anonymous, with_authenticated

log = logging.getLogger("apiserver.authn")

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


def is_public(path: str) -> bool:
    """Paths upstream's system:public-info-viewer opens to everyone (health and version)."""
    p = path.rstrip("/") or "/"
    return p in PUBLIC_PATHS or p.startswith(("/healthz/", "/livez/", "/readyz/"))


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def user_from_certificate(cert: x509.Certificate) -> UserInfo | None:
    """Upstream's CommonNameUserConversion: CN is the user name, each O a group."""
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cn or not str(cn[0].value):
        return None
    groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return with_authenticated(UserInfo(str(cn[0].value), "", groups))


@dataclass
class Authenticator:
    tokens: dict[str, UserInfo] | None = None
    service_accounts: Verifier | None = None
    client_certificates: bool = False
    anonymous: bool = True
    lookup: Lookup | None = None
    audiences: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        """Whether any credential is checked at all (without any, every request is anonymous)."""
        return bool(self.tokens is not None or self.service_accounts or self.client_certificates)

    async def token_user(self, token: str) -> UserInfo | None:
        """The user of a bearer token, or None when no authenticator accepts it (TokenReview uses this too)."""
        if self.tokens is not None and token in self.tokens:
            return self.tokens[token]
        if self.service_accounts is not None and self.lookup is not None and looks_like_jwt(token):
            try:
                return await self.service_accounts.authenticate(token, self.lookup, self.audiences or None)
            except TokenInvalid as e:
                log.info("service account token refused", extra={"reason": str(e)})
        return None

    async def authenticate(self, authorization: str | None, peer_cert: x509.Certificate | None) -> UserInfo:
        if peer_cert is not None and self.client_certificates:
            user = user_from_certificate(peer_cert)
            if user is not None:
                return user
        scheme, _, token = (authorization or "").strip().partition(" ")
        if authorization and authorization.strip():
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                user = await self.token_user(token)
                if user is not None:
                    return user
            if self.enabled:
                raise unauthorized()
        if self.anonymous or not self.enabled:
            return anonymous()
        raise unauthorized()
