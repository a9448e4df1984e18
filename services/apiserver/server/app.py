"""The ASGI application: routing, content negotiation, Status errors and bootstrap.

Every request reaches `APIServer.__call__`, which parses Kubernetes URLs itself, so every failure
(unknown path, bad method, bad body, oversized or slow body, store outage) goes through one place
and becomes a Status object. Malformed HTTP never gets this far: protocol.py answers it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Router
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from ..admission.plugins import default_chain
from ..api import discovery, errors
from ..openapi.generate import OpenAPI
from ..registry.catalog import Config, Registry
from ..storage import EtcdClient, StoreError, StoreTLS
from . import codec
from ..auth.authn import Authenticator
from ..auth.authz import Authorizer
from .auth import Security, User
from .handlers import Handlers
from .listoptions import query_bool
from .routes import parse

log = logging.getLogger("apiserver")

REQUESTS = Counter("apiserver_request_total", "API requests by verb, resource and code", ["verb", "resource", "code"])
LATENCY = Histogram("apiserver_request_duration_seconds", "API request latency (watches excluded)", ["verb", "resource"])

VERSION = {"major": "1", "minor": "32", "emulationMajor": "1", "emulationMinor": "32", "gitVersion": "v1.32.0-kubeling",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64"}
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


BODY_IDLE_TIMEOUT = 10.0
BODY_TIMEOUT = 60.0


class BodyTimeout(errors.StatusError):
    """The request body stopped arriving: 408, and the connection is not kept (the rest of the
    body would be read as the next request)."""

    def __init__(self) -> None:
        super().__init__(408, "Timeout", f"the request body did not arrive in time (no data for {BODY_IDLE_TIMEOUT:g} s, "
                                         f"or not all of it within {BODY_TIMEOUT:g} s)")


class SecurityConfig:
    """What main.py read from the security flags; `build` wires it to a registry."""

    def __init__(self, tokens: dict[str, User] | None = None, modes: list[str] | None = None, verifier: Any = None,
                 issuer: Any = None, client_certificates: bool = False, anonymous: bool | None = None,
                 audiences: list[str] | None = None) -> None:
        self.tokens, self.modes, self.verifier, self.issuer = tokens, modes or ["AlwaysAllow"], verifier, issuer
        self.client_certificates, self.anonymous, self.audiences = client_certificates, anonymous, audiences or []

    def build(self, registry: Registry) -> Security:
        authn = Authenticator(tokens=self.tokens, service_accounts=self.verifier, client_certificates=self.client_certificates,
                              anonymous=False, audiences=self.audiences)
        # anonymous requests: allowed only when no credential is checked at all (kubeling's default), or when asked
        authn.anonymous = (not authn.enabled) if self.anonymous is None else self.anonymous
        authn.lookup = _lookup(registry)
        security = Security(authn, Authorizer(self.modes, registry))
        for st in registry.stores.values():
            if hasattr(type(st.strategy), "security"):
                st.strategy.security = security  # type: ignore[attr-defined]
        registry.get("", "v1", "serviceaccounts").strategy.issuer = self.issuer  # type: ignore[union-attr]
        return security


def _lookup(registry: Registry):  # noqa: ANN202 - returns auth.serviceaccount.Lookup
    """Objects a ServiceAccount token is bound to: the watch cache first, the store when the cache
    does not have it (yet), so a just-created account works at once."""
    async def lookup(resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        st = registry.get("", "v1", resource)
        if st is None:
            return None
        cached = st.cache.objects.get(st.key(namespace, name)) if st.cache._ready.is_set() else None
        return cached if cached is not None else await st.try_get(namespace, name)
    return lookup


class APIServer:
    def __init__(self, etcd_servers: list[str], config: Config, address: str, compaction_interval: float = 300.0,
                 tokens: dict[str, User] | None = None, store_tls: StoreTLS | None = None,
                 security: "SecurityConfig | None" = None, transformer: Any = None, kubelet_tls: Any = None,
                 admission_plugins: tuple[str, ...] = ()) -> None:
        self.compaction_interval = compaction_interval
        self.client = EtcdClient(etcd_servers, tls=store_tls)
        self.client.transformer = transformer  # secrets encrypted at rest (storage/encryption.py)
        self.config = config
        self.address = address
        # admission_plugins: the optional ones enabled (--enable-admission-plugins); the RBAC
        # escalation check asks for the authorizer, which is built from this registry, per request
        self.registry = Registry(self.client, config,
                                 lambda registry: default_chain(registry, lambda: self.security.authz, admission_plugins))
        self.security = (security or SecurityConfig(tokens=tokens)).build(self.registry)
        self.handlers = Handlers(self.registry)
        self.handlers.kubelet_tls = kubelet_tls  # ssl.SSLContext: kubelets serve HTTPS (--kubelet-client-certificate)
        self.openapi = OpenAPI(self.registry)
        self.ready = False

    # --- bootstrap ------------------------------------------------------------------------------
    async def bootstrap(self) -> None:
        """Create the system namespaces and the `kubernetes` service; safe with several apiservers."""
        ns_store = self.registry.get("", "v1", "namespaces")
        for name in BOOTSTRAP_NAMESPACES:
            try:
                await ns_store.create(None, {"metadata": {"name": name}})
            except errors.StatusError as e:
                if e.code != 409:
                    raise
        if self.security.authz.rbac is not None:
            from ..auth import policy
            await policy.ensure(self.registry)
        await self.security.authz.start()
        if self.security.authn.service_accounts is not None:  # token checks read accounts from the watch cache
            await self.registry.get("", "v1", "serviceaccounts").cache.ensure_started()  # type: ignore[union-attr]
        svc = self.registry.get("", "v1", "services")
        first_ip = str(next(svc.strategy.ip_net.hosts()))
        try:
            await svc.create("default", {"metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                                         "spec": {"type": "ClusterIP", "clusterIP": first_ip,
                                                  "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": int(self.address.rsplit(':', 1)[1])}]}})
        except errors.StatusError as e:
            if e.code not in (409, 422):
                raise
        await self._reconcile_endpoints()
        self.ready = True

    async def _reconcile_endpoints(self) -> None:
        """Endpoints default/kubernetes lists this apiserver, as upstream's endpoint reconciler does."""
        host, port = self.address.rsplit(":", 1)
        ep = self.registry.get("", "v1", "endpoints")

        def add_self(cur: dict[str, Any]) -> dict[str, Any]:
            subsets = cur.get("subsets") or [{"addresses": [], "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}]}]
            addrs = subsets[0].setdefault("addresses", [])
            if not any(a.get("ip") == host for a in addrs):
                addrs.append({"ip": host})
            cur["subsets"] = subsets
            return cur

        async def create() -> dict[str, Any]:
            return await ep.create("default", add_self({"metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}}))
        try:
            await ep.update("default", "kubernetes", add_self, create_if_missing=create)
        except errors.StatusError as e:
            if e.code != 409:
                raise

    # --- dispatch -------------------------------------------------------------------------------
    async def __call__(self, request: Request) -> Response:
        start = time.monotonic()
        verb, resource, code = request.method, "", 500
        try:
            resp = await self.dispatch(request)
            code = resp.status_code
            return resp
        except BodyTimeout as e:
            code = e.code
            return Response(json.dumps(e.status()), e.code, media_type="application/json", headers={"Connection": "close"})
        except errors.StatusError as e:
            code = e.code
            return codec.status_response(e)
        except StoreError as e:
            code = 503
            return codec.status_response(errors.unavailable(f"the store is unavailable: {e}"))
        except ClientDisconnect:
            code = 499
            return Response(status_code=499)
        except Exception as e:  # a bug, not a client mistake: log it and still answer with a Status
            log.exception("unhandled error", extra={"path": request.url.path})
            return codec.status_response(errors.internal(repr(e)))
        finally:
            REQUESTS.labels(verb, resource, str(code)).inc()
            if not query_bool(request.query_params, "watch"):
                LATENCY.labels(verb, resource).observe(time.monotonic() - start)

    async def health(self, path: str) -> Response:
        """/livez: the process serves. /readyz and /healthz also need bootstrap done and the store
        answering, as kube-apiserver's `etcd` check does."""
        if path.startswith("/livez"):
            return PlainTextResponse("ok")
        if not self.ready:
            return PlainTextResponse("[-]poststarthook/bootstrap failed: not finished\nreadyz check failed", 500)
        import asyncio
        try:
            await asyncio.wait_for(self.client.current_revision(), 3.0)
        except (StoreError, asyncio.TimeoutError) as e:
            return PlainTextResponse(f"[-]etcd failed: {e or 'timeout'}\nhealthz check failed", 500)
        return PlainTextResponse("ok")

    async def _body(self, request: Request) -> bytes:
        """The request body: at most codec.MAX_BODY bytes (upstream's 3 MiB), arriving with no
        pause longer than BODY_IDLE_TIMEOUT and in full within BODY_TIMEOUT, else a 408 Status and
        the connection closed. Upstream leaves a slow body to its 60 s request timeout (a 504);
        a client that sends 7 bytes of a 2 MB body and stalls is cut off here after 10 s."""
        import asyncio
        cl = request.headers.get("content-length")
        if cl and cl.isdigit() and int(cl) > codec.MAX_BODY:
            raise errors.too_large()
        chunks, size = [], 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BODY_TIMEOUT
        while True:
            try:
                message = await asyncio.wait_for(request.receive(), min(BODY_IDLE_TIMEOUT, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise BodyTimeout() from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > codec.MAX_BODY:
                raise errors.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _openapi_v2(self, request: Request) -> Response:
        """The Swagger 2.0 document, as JSON: the protobuf form (what kubectl's older code asks for
        first) is not served, so a client that accepts only that gets a 406 and one that also
        accepts JSON gets JSON (kube-openapi's handler negotiates the same way). ETag and
        If-None-Match as upstream, so a client's cached copy costs a 304."""
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        accept = request.headers.get("accept") or "*/*"
        types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
        if not types & {"", "*/*", "application/*", "application/json"}:
            raise errors.StatusError(406, "NotAcceptable", f"only the following media types are accepted: application/json (got {accept!r})")
        body, etag = self.openapi.v2()
        headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "no-cache, private"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body if request.method == "GET" else b"", media_type="application/json", headers=headers)

    def _issuer_discovery(self, path: str) -> Response:
        from ..auth import oidc
        verifier = self.security.authn.service_accounts
        if verifier is None:
            raise errors.route_not_found()
        doc = oidc.jwks(verifier.keys) if path == oidc.JWKS_PATH else oidc.openid_configuration(verifier.issuers[0], verifier.keys)
        return Response(json.dumps(doc), media_type="application/json" if path == oidc.CONFIG_PATH else "application/jwk-set+json")

    def is_namespaced(self, group: str, resource: str) -> bool:
        st = self.registry.stores.get((group, resource))
        return bool(st and st.strategy.namespaced)

    async def dispatch(self, request: Request) -> Response:
        request.state.user = await self.security.check(request, request.method, self.is_namespaced)
        path = request.scope["path"].rstrip("/") or "/"  # not url.path: urlsplit drops \t, \r and \n
        method = request.method
        accept = request.headers.get("accept")
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return await self.health(path)
        if path == "/version":
            return codec.respond(VERSION)
        if path in ("/.well-known/openid-configuration", "/openid/v1/jwks"):  # ServiceAccount issuer discovery
            return self._issuer_discovery(path)
        if path == "/metrics":
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
        if path == "/openapi/v2":
            return self._openapi_v2(request)
        if path.startswith("/openapi/v3"):
            if method != "GET":
                raise errors.method_not_allowed()
            doc = self.openapi.document(path[len("/openapi/v3"):].strip("/"))
            if doc is None:
                raise errors.route_not_found()
            return Response(doc, media_type="application/json")
        groups = self.registry.groups()
        agg = discovery.AGGREGATED_CT in (accept or "") or "as=APIGroupDiscoveryList" in (accept or "")
        if path in ("/api", "/apis"):
            if method != "GET":
                raise errors.method_not_allowed()
            if agg:
                return Response(json.dumps(discovery.aggregated(groups, path == "/api")),
                                media_type=discovery.AGGREGATED_CT, headers={"Vary": "Accept"})
            doc = discovery.api_versions(self.address) if path == "/api" else discovery.api_group_list(groups)
            return Response(json.dumps(doc), media_type="application/json", headers={"Vary": "Accept"})
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            if parts[1] != "v1":
                raise errors.route_not_found()
            return codec.respond(discovery.api_resource_list("", "v1", groups.get("", [])))
        if parts[0] == "apis" and len(parts) in (2, 3):
            ss = groups.get(parts[1])
            if not ss or parts[1] == "" or (len(parts) == 3 and parts[2] != ss[0].version):
                raise errors.route_not_found()
            if len(parts) == 2:
                return codec.respond(discovery.api_group(parts[1], ss[0].version))
            return codec.respond(discovery.api_resource_list(parts[1], parts[2], ss))

        rp = parse(path, self.is_namespaced)
        if rp is None:
            raise errors.route_not_found()
        store = self.registry.get(rp.group, rp.version, rp.resource)
        if store is None:
            raise errors.route_not_found()
        s = store.strategy
        if rp.namespace is not None and not s.namespaced:
            raise errors.route_not_found()
        known_subs = {"", "status" if s.has_status else "", "scale" if s.has_scale else ""} | {x[0] for x in s.extra_subresources}
        if rp.subresource not in known_subs:
            raise errors.route_not_found()
        if s.namespaced and rp.name is not None and rp.namespace is None:
            raise errors.route_not_found()
        codec.check_accept(accept)
        if s.virtual and (method != "POST" or rp.name is not None):
            raise errors.method_not_allowed()
        if method == "GET":
            return await self.handlers.get(request, store, rp)
        if method == "POST" and rp.subresource in ("exec", "attach", "portforward"):
            return await self.handlers.create(request, store, rp, None)  # a streaming upgrade: no body
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            raw = await self._body(request)
            if method == "PATCH":
                return await self.handlers.patch(request, store, rp, raw)
            if method == "DELETE":
                body = await codec.decode_body_async(raw, request.headers.get("content-type")) if raw.strip() else {}
                return await self.handlers.delete(request, store, rp, body)
            body = await codec.decode_body_async(raw, request.headers.get("content-type"))
            if method == "POST":
                if rp.name is None and s.namespaced and rp.namespace is None:
                    raise errors.method_not_allowed()
                return await self.handlers.create(request, store, rp, body)
            return await self.handlers.replace(request, store, rp, body)
        raise errors.method_not_allowed()


def build_app(server: APIServer) -> Router:
    @contextlib.asynccontextmanager
    async def lifespan(app: Router):  # noqa: ANN202
        import asyncio
        for attempt in range(600):
            try:
                await server.bootstrap()
                break
            except (StoreError, errors.StatusError) as e:
                log.warning("bootstrap waiting for the store", extra={"error": str(e)})
                await asyncio.sleep(0.5)
        log.info("apiserver ready", extra={"address": server.address})
        compactor = None
        if server.compaction_interval > 0:
            from ..storage import compactor as compaction
            compactor = asyncio.create_task(compaction.run(server.client, server.compaction_interval))
        yield
        if compactor is not None:
            compactor.cancel()
        await server.registry.close()
        await server.client.close()

    async def http_or_websocket(scope: Scope, receive: Receive, send: Send) -> None:
        """Every request, whatever its path or method: Starlette's routes would answer a path
        their pattern does not match (a %0A in a name) or a method they do not list (TRACE) with
        plain text; here each reaches dispatch and fails, if it fails, with a Status."""
        if scope["type"] == "websocket":
            await ws_endpoint(WebSocket(scope, receive, send))
            return
        response = await server(Request(scope, receive))
        await response(scope, receive, send)

    async def ws_endpoint(ws: WebSocket) -> None:  # pods/exec over WebSocket (kubectl exec)
        from .exec import websocket_endpoint
        try:  # a WebSocket exec is authorized as `create pods/exec`, as upstream does
            ws.state.user = await server.security.check(ws, "GET", server.is_namespaced, verb="create")
        except errors.StatusError as e:
            await ws.send_denial_response(codec.status_response(e))
            return
        await websocket_endpoint(server, ws)

    return Router(routes=[], default=http_or_websocket, lifespan=lifespan)
