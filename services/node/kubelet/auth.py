"""The kubelet API's authentication and authorization, as upstream's kubelet does them.

Anyone who can reach a node agent's port could otherwise read every pod's logs and exec into
every container, so a secured kubelet (kubeadm's KubeletConfiguration) checks every request:

- **authentication**: X.509 client certificates signed by `--client-ca-file` (CN = user, each
  O = a group; the TLS handshake verifies them, so a certificate from another CA never gets a
  response), then bearer tokens with `--authentication-token-webhook` (a TokenReview to the
  apiserver, answers cached `--authentication-token-webhook-cache-ttl`, 2m); a request with
  neither is `system:anonymous` when `--anonymous-auth=true` (the flag's default), else
  `401 Unauthorized`, and so is a token the apiserver reports an error for;
- **authorization**: `--authorization-mode=AlwaysAllow` (the flag's default) or `Webhook`,
  which asks the apiserver with a SubjectAccessReview whether the user may act on this Node's
  subresource (`nodes/proxy` for most paths, `nodes/log`, `nodes/stats`, `nodes/metrics`,
  `nodes/checkpoint`), and caches answers (allowed 5m, denied 30s by default) so an exec
  session or a log tail does not cost an apiserver round trip per request.

The refusals are upstream's plain-text bodies: `Unauthorized`, `Forbidden (user=..., verb=...,
resource=..., subresource=...)` and, when the apiserver cannot answer, a 500 `Authorization
error (...)`.
"""
from __future__ import annotations

import hashlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kubeling.shared.httpserver import Request, Response, text

log = logging.getLogger(__name__)

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
MODES = ("AlwaysAllow", "Webhook")

# upstream's kubelet server paths that get their own subresource (pkg/kubelet/server/auth.go)
_SUBRESOURCE_PATHS = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/checkpoint", "checkpoint"))
_VERBS = {"POST": "create", "GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attributes:
    """What a request asks of the Node: the SubjectAccessReview's resourceAttributes."""

    user: User
    verb: str
    name: str  # the node's name
    subresource: str
    resource: str = "nodes"

    def describe(self) -> str:
        return f"user={self.user.name}, verb={self.verb}, resource={self.resource}, subresource={self.subresource}"


def _is_subpath(path: str, prefix: str) -> bool:
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] == "/")


def request_attributes(user: User, method: str, path: str, node_name: str) -> Attributes:
    """Upstream's mapping: the HTTP method is the verb (an unknown method gets none, so only a
    `*` rule allows it); the path picks the subresource, `proxy` unless it is a stats, metrics,
    node-log or checkpoint path. Pod logs and exec (`/containerLogs`, `/exec`, `/run`,
    `/attach`, `/portForward`) are `nodes/proxy`, as is a WebSocket exec's GET."""
    sub = next((s for prefix, s in _SUBRESOURCE_PATHS if _is_subpath(path, prefix)), "proxy")
    return Attributes(user, _VERBS.get(method.upper(), ""), node_name, sub)


def user_from_certificate(der: bytes) -> User | None:
    """CommonNameUserConversion: CN is the user, each O a group; no CN, no user."""
    from kubeling.shared.pki import subject_of  # `cryptography` (~8 MB) only for agents serving TLS
    cn, orgs = subject_of(der)
    return User(cn, (*orgs, AUTHENTICATED)) if cn else None


class Review(Protocol):
    async def __call__(self, body: dict[str, Any]) -> dict[str, Any]: ...


class AuthorizationError(Exception):
    """The authorizer could not decide (the apiserver did not answer); never cached."""


class WebhookAuthorizer:
    """Asks the apiserver (as this node) with a SubjectAccessReview and caches the answer per
    attributes, upstream's `--authorization-webhook-cache-authorized-ttl` (5m) and
    `--authorization-webhook-cache-unauthorized-ttl` (30s)."""

    def __init__(self, review: Review, authorized_ttl: float = 300.0, unauthorized_ttl: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.review = review
        self.authorized_ttl, self.unauthorized_ttl = authorized_ttl, unauthorized_ttl
        self.clock = clock
        self._cache: dict[Attributes, tuple[bool, float]] = {}

    async def authorize(self, attrs: Attributes) -> bool:
        now = self.clock()
        hit = self._cache.get(attrs)
        if hit is not None and hit[1] > now:
            return hit[0]
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": attrs.user.name, "groups": list(attrs.user.groups),
                         "resourceAttributes": {"verb": attrs.verb, "group": "", "version": "v1", "resource": attrs.resource,
                                                "subresource": attrs.subresource, "name": attrs.name}}}
        try:
            out = await self.review(body)
        except Exception as e:  # the apiserver is down or refused the review: no decision
            raise AuthorizationError(str(e)) from e
        allowed = bool((out.get("status") or {}).get("allowed"))
        ttl = self.authorized_ttl if allowed else self.unauthorized_ttl
        if len(self._cache) > 10_000:  # bounded, as upstream's LRU: drop what has expired
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
        if ttl > 0:
            self._cache[attrs] = (allowed, now + ttl)
        return allowed


class TokenRefused(Exception):
    """The token is wrong (the review says why) or could not be checked: 401, never anonymous."""


class WebhookTokenAuthenticator:
    """Bearer tokens checked by the apiserver with a TokenReview (upstream's
    `--authentication-token-webhook`), cached per token for `ttl` whatever the answer, as upstream;
    the cache keys on a hash, so the process keeps no token it was shown."""

    def __init__(self, review: Review, ttl: float = 120.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.review, self.ttl, self.clock = review, ttl, clock
        self._cache: dict[bytes, tuple[User | None, str, float]] = {}

    async def authenticate(self, token: str) -> User | None:
        """The token's user; None when the apiserver does not know it without saying why."""
        key, now = hashlib.sha256(token.encode()).digest(), self.clock()
        hit = self._cache.get(key)
        if hit is None or hit[2] <= now:
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
            try:
                status = (await self.review(body)).get("status") or {}
            except Exception as e:  # the apiserver is unreachable: refuse, and ask again next time
                raise TokenRefused(f"token review failed: {e}") from e
            who = status.get("user") or {}
            user = User(who.get("username") or "", tuple(who.get("groups") or ())) if status.get("authenticated") else None
            hit = (user if user and user.name else None, "" if user else str(status.get("error") or ""), now + self.ttl)
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if v[2] > now}
            if self.ttl > 0:
                self._cache[key] = hit
        if hit[1]:
            raise TokenRefused(hit[1])
        return hit[0]


class AlwaysAllow:
    async def authorize(self, attrs: Attributes) -> bool:
        return True


@dataclass
class KubeletAuth:
    """The filter in front of every kubelet API handler."""

    node_name: str
    authorizer: WebhookAuthorizer | AlwaysAllow
    anonymous: bool = True
    client_certificates: bool = False
    tokens: WebhookTokenAuthenticator | None = None

    async def authenticate(self, req: Request) -> User | None:
        """Upstream's order: the client certificate, then the bearer token, then anonymous."""
        if self.client_certificates and req.peer_cert:
            user = user_from_certificate(req.peer_cert)
            if user is not None:
                return user
        auth = req.headers.get("authorization") or ""
        if self.tokens is not None and auth[:7].lower() == "bearer " and auth[7:].strip():
            try:
                user = await self.tokens.authenticate(auth[7:].strip())
            except TokenRefused as e:
                log.info("Unable to authenticate the request", extra={"err": str(e)[:200]})
                return None
            if user is not None:
                return User(user.name, tuple(dict.fromkeys((*user.groups, AUTHENTICATED))))
        return User(ANONYMOUS, (UNAUTHENTICATED,)) if self.anonymous else None

    def wrap(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(req: Request) -> Response:
            user = await self.authenticate(req)
            if user is None:
                return text("Unauthorized", 401)
            attrs = request_attributes(user, req.method, req.path, self.node_name)
            try:
                allowed = await self.authorizer.authorize(attrs)
            except AuthorizationError as e:
                log.error("Authorization error", extra={"user": user.name, "verb": attrs.verb,
                                                        "subresource": attrs.subresource, "err": str(e)[:200]})
                return text(f"Authorization error ({attrs.describe()})", 500)
            if not allowed:
                log.info("Forbidden", extra={"user": user.name, "verb": attrs.verb, "subresource": attrs.subresource})
                return text(f"Forbidden ({attrs.describe()})", 403)
            return await handler(req)
        return guarded


def serving_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    """The kubelet's TLS: its serving certificate; with a client CA, client certificates are
    verified when given (upstream's VerifyClientCertIfGiven), so a certificate from another CA
    fails the handshake while a request without one still reaches authentication."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        ctx.load_verify_locations(cafile=client_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def add_flags(p: Any) -> None:
    """The kubelet's serving and auth flags (KubeletConfiguration's authentication/authorization)."""
    p.add_argument("--tls-cert-file", help="serve the kubelet API over HTTPS with this certificate (PEM; SAN = the node's address)")
    p.add_argument("--tls-private-key-file", help="the private key of --tls-cert-file")
    p.add_argument("--client-ca-file", help="with TLS: client certificates signed by this CA authenticate as CN (user) and O (groups)")
    p.add_argument("--anonymous-auth", choices=("true", "false"), default="true",
                   help="serve requests without a client certificate as system:anonymous (default true; kubeadm sets false)")
    p.add_argument("--authentication-token-webhook", choices=("true", "false"), nargs="?", const="true", default="false",
                   help="check bearer tokens with a TokenReview to the apiserver (default false; kubeadm sets true)")
    p.add_argument("--authentication-token-webhook-cache-ttl", type=float, default=120.0,
                   help="seconds to cache a TokenReview answer (default 120)")
    p.add_argument("--authorization-mode", choices=MODES, default="AlwaysAllow",
                   help="AlwaysAllow, or Webhook: ask the apiserver with a SubjectAccessReview (nodes/proxy, nodes/log, "
                        "nodes/stats, nodes/metrics) (default AlwaysAllow; kubeadm sets Webhook)")
    p.add_argument("--authorization-webhook-cache-authorized-ttl", type=float, default=300.0,
                   help="seconds to cache an 'allowed' webhook answer (default 300)")
    p.add_argument("--authorization-webhook-cache-unauthorized-ttl", type=float, default=30.0,
                   help="seconds to cache a 'denied' webhook answer (default 30)")
    p.add_argument("--healthz-port", type=int, default=0,
                   help="also serve /healthz, /livez and /readyz over plain HTTP, unauthenticated, on this port "
                        "(upstream's 10248); 0 disables it (default 0)")
    p.add_argument("--healthz-bind-address", help="address of --healthz-port (default: --node-ip)")


def check_flags(p: Any, args: Any) -> None:
    """Flag combinations that cannot work, refused at start as upstream's validation does."""
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    if args.client_ca_file and not args.tls_cert_file:
        p.error("--client-ca-file needs TLS (--tls-cert-file and --tls-private-key-file)")
    if args.tls_cert_file:
        try:
            serving_context(args.tls_cert_file, args.tls_private_key_file, args.client_ca_file)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            p.error(f"--tls-cert-file, --tls-private-key-file, --client-ca-file: {e}")


def from_flags(args: Any, client: Any) -> tuple[KubeletAuth | None, ssl.SSLContext | None]:
    """The filter and TLS context the flags ask for; (None, None) without any: plain HTTP, open."""
    tls = serving_context(args.tls_cert_file, args.tls_private_key_file, args.client_ca_file) if args.tls_cert_file else None
    if args.authorization_mode == "AlwaysAllow" and args.anonymous_auth == "true":
        return None, tls  # every request is allowed, whoever sends it: nothing to check

    def review(path: str) -> Review:
        async def post(body: dict[str, Any]) -> dict[str, Any]:
            return await client.request("POST", path, body=body)
        return post
    authorizer: WebhookAuthorizer | AlwaysAllow = AlwaysAllow()
    if args.authorization_mode == "Webhook":
        authorizer = WebhookAuthorizer(review(SAR_PATH), args.authorization_webhook_cache_authorized_ttl,
                                       args.authorization_webhook_cache_unauthorized_ttl)
    tokens = None
    if args.authentication_token_webhook == "true":
        tokens = WebhookTokenAuthenticator(review(TOKEN_REVIEW_PATH), args.authentication_token_webhook_cache_ttl)
    return KubeletAuth(args.node_name, authorizer, anonymous=args.anonymous_auth == "true",
                       client_certificates=bool(args.client_ca_file), tokens=tokens), tls
