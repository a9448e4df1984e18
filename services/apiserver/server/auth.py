"""Request security: authenticate, then authorize, every request before it reaches a handler.

The flow is kube-apiserver's filter chain: the authenticator chain (auth/authn.py) turns the
request's credentials into a user (or 401), impersonation headers switch to another user when the
requester may impersonate it (auth/impersonation.py), the request's attributes are derived from its URL
(auth/attributes.py), and the authorizer chain (auth/authz.py) allows it or answers 403 with
upstream's message. /healthz, /livez, /readyz and /version are always public. Without any
authentication flag every request is anonymous, and without --authorization-mode everything is
allowed, so a cluster started without flags behaves as before.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import HTTPConnection

from ..api.errors import StatusError
from ..auth import context
from ..auth.attributes import Attributes, non_resource, resource_verb
from ..auth.authn import Authenticator, is_public
from ..auth.authz import Authorizer, forbidden
from ..auth.impersonation import impersonate
from ..auth.tls import peer_certificate
from ..auth.tokenfile import load_tokens
from ..auth.user import UserInfo, anonymous
from .listoptions import query_bool
from .routes import parse

User = UserInfo  # the name older modules import
PUBLIC = ("/healthz", "/livez", "/readyz", "/version")

__all__ = ["PUBLIC", "Security", "User", "load_tokens"]


class Security:
    """The apiserver's authenticator and authorizer chains, applied to each request in `check`."""

    def __init__(self, authenticator: Authenticator, authorizer: Authorizer) -> None:
        self.authn = authenticator
        self.authz = authorizer

    async def authenticate(self, conn: HTTPConnection) -> UserInfo:
        try:
            return await self.authn.authenticate(conn.headers.get("authorization"), peer_certificate(conn.scope))
        except StatusError:
            if is_public(conn.scope["path"]):  # health and version answer whatever the credentials
                return anonymous()
            raise

    def attributes(self, user: UserInfo, method: str, path: str, query: Any,
                   is_namespaced: Callable[[str, str], bool]) -> Attributes:
        """upstream's RequestInfoFactory: resource requests under /api and /apis, the rest by path."""
        parts = [p for p in path.split("/") if p]
        resource_like = (len(parts) >= 3 and parts[0] == "api") or (len(parts) >= 4 and parts[0] == "apis")
        rp = parse(path, is_namespaced) if resource_like else None
        if rp is None:
            return non_resource(user, method, path)
        watch = query_bool(query, "watch")  # the same rule the handler follows (listoptions.py)
        verb = resource_verb(method, rp.name is not None, watch)
        namespace = rp.namespace or ""
        if rp.resource == "namespaces" and rp.name and not namespace:
            namespace = rp.name  # upstream: a namespace is its own namespace for authorization
        return Attributes(user=user, verb=verb, resource_request=True, path=path, namespace=namespace,
                          api_group=rp.group, api_version=rp.version, resource=rp.resource,
                          subresource=rp.subresource, name=rp.name or "", field_selector=str(query.get("fieldSelector") or ""))

    async def check(self, conn: HTTPConnection, method: str, is_namespaced: Callable[[str, str], bool],
                    verb: str | None = None) -> UserInfo:
        """Authenticate and authorize `conn`; the user, with the request attributes in the context."""
        user = await self.authenticate(conn)
        if any(k.startswith("impersonate-") for k in conn.headers):
            user = impersonate(user, conn.headers, self.authz.authorize)
        # the decoded path as the server received it (url.path would lose \t, \r and \n, as urlsplit drops them)
        attrs = self.attributes(user, method, conn.scope["path"], conn.query_params, is_namespaced)
        if verb is not None:
            attrs = Attributes(**{**attrs.__dict__, "verb": verb})
        context.current.set(attrs)
        if is_public(conn.scope["path"]) or self.authz.always_allow:
            return user
        allowed, reason = self.authz.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
        return user
