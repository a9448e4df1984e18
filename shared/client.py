"""An async REST client for the Kubernetes API, the only way kubeling's components reach state.

Mirrors what client-go's typed clients do for the few kinds components use: CRUD, the status
and binding subresources, patches of the three types, and watch streams (newline-delimited JSON
events). Failures come back as `ApiError` carrying the Status the apiserver sent, so callers can
branch on `code` (404, 409, 410) as controllers do on `errors.IsNotFound` and friends.

Several server URLs may be configured: a request that cannot connect moves on to the next URL
and the client remembers the one that worked (the components' side of apiserver failover).

Every transport failure - refused or timed-out connects, a full connection pool, a read that
timed out - comes back as `Unavailable`, the one "try again later" error callers handle: no
transport exception type leaks out to crash a controller's worker or a kubelet's heartbeat.
The pool keeps as many idle connections as it may open, so a burst does not end in a storm of
fresh connects to a busy apiserver; callers that must not be starved by others' traffic (the
kubelet's heartbeats, as upstream's separate heartbeat client) use a Client of their own.

The transport is `shared/rawhttp.py` (not httpx: ~3.3 MB less RSS per component process, and less
CPU per request); unit tests replace it with tests/support/fakehttp.py's FakeTransport.
"""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from . import rawhttp
from .kubeconfig import ClientConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the REST tree: `/api/v1` or `/apis/<group>/<version>`, plus plural."""
    group_version: str
    plural: str
    namespaced: bool
    kind: str

    @property
    def prefix(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        p = self.prefix
        if self.namespaced and namespace:
            p += f"/namespaces/{namespace}"
        p += f"/{self.plural}"
        if name:
            p += f"/{name}"
            if sub:
                p += f"/{sub}"
        return p


PODS = Resource("v1", "pods", True, "Pod")
NODES = Resource("v1", "nodes", False, "Node")
SERVICES = Resource("v1", "services", True, "Service")
ENDPOINTS = Resource("v1", "endpoints", True, "Endpoints")
EVENTS = Resource("v1", "events", True, "Event")
NAMESPACES = Resource("v1", "namespaces", False, "Namespace")
ENDPOINTSLICES = Resource("discovery.k8s.io/v1", "endpointslices", True, "EndpointSlice")
LEASES = Resource("coordination.k8s.io/v1", "leases", True, "Lease")


class ApiError(Exception):
    """A non-2xx answer; `status` is the decoded Status body when there was one."""

    def __init__(self, code: int, status: dict[str, Any] | None, text: str = "") -> None:
        self.code = code
        self.status = status or {}
        self.reason = self.status.get("reason", "")
        super().__init__(f"{code} {self.reason}: {self.status.get('message') or text[:200]}")


class Unavailable(Exception):
    """No configured apiserver could be reached, or the request failed in transport (timed out,
    connection pool exhausted): transient, worth retrying with back-off."""


# How a transport failure is handled. CONNECT: nothing reached that server, the next server URL may
# do better. BROKEN: the connection broke (a kept-alive one the server closed, a reset): also
# worth the next server, and an idempotent request is first sent once more to the same one.
# OTHER (a full pool, a timed-out read or write): reported as Unavailable at once.
_CONNECT, _BROKEN, _OTHER = "connect", "broken", "other"


def _failure(e: BaseException) -> str | None:
    """The kind of a transport failure; None for an exception that is not one (a bug: re-raised)."""
    if isinstance(e, rawhttp.RawHTTPError):
        if isinstance(e, rawhttp.ConnectError):
            return _CONNECT
        if isinstance(e, (rawhttp.PoolTimeout, rawhttp.ReadTimeout)):
            return _OTHER
        return _BROKEN  # ReadError, RemoteProtocolError
    return None


PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


class Client:
    """One connection pool (per server) shared by every request and watch of a component."""

    def __init__(self, config: ClientConfig, user_agent: str = "kubeling", timeout: float = 30.0, *,
                 max_connections: int = 100, connect_timeout: float = 5.0,
                 pool_timeout: float | None = None) -> None:
        """`timeout` bounds each request's write and read (a watch's reads are unbounded);
        `pool_timeout` (default: `timeout`) how long a request may wait for a free connection to
        a server; `max_connections` (per server) counts watches too."""
        self.config = config
        self.servers = list(config.servers)
        self._current = 0
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        tls = config.ssl_context() if any(s.startswith("https:") for s in self.servers) else None
        self._http: Any = rawhttp.RawHTTPClient(timeout=timeout, connect_timeout=connect_timeout,
                                                max_connections=max_connections, pool_timeout=pool_timeout,
                                                ssl_context=tls, headers=headers)
        self._connect_timeout = connect_timeout

    @property
    def server(self) -> str:
        return self.servers[self._current]

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, content_type: str = "application/json") -> Any:
        """Send one request, failing over between servers on connection errors; decode JSON."""
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else None
        last: Exception | None = None
        attempts = [(self._current + i) % len(self.servers) for i in range(len(self.servers))]
        # A kept-alive connection the server closed just as we reused it fails with no answer.
        # Idempotent verbs are sent once more (on the same server); a POST is never repeated.
        stale_retry = method != "POST"
        while attempts:
            idx = attempts.pop(0)
            try:
                r = await self._http.request(method, self.servers[idx] + path, params=_clean(params),
                                             content=content, headers=headers)
            except Exception as e:
                kind = _failure(e)
                if kind is None:
                    raise
                if kind == _OTHER:  # PoolTimeout, ReadTimeout, ...
                    raise Unavailable(f"{method} {path}: {e!r}") from e
                last = e
                if stale_retry and kind == _BROKEN:
                    stale_retry = False
                    attempts.insert(0, idx)
                continue
            self._current = idx
            return _decode(r)
        raise Unavailable(f"no apiserver reachable ({', '.join(self.servers)}): {last!r}") from last

    # -- verbs ------------------------------------------------------------------------------------

    async def get(self, res: Resource, name: str, namespace: str | None = None, *,
                  resource_version: str | None = None) -> dict[str, Any]:
        """GET one object; resource_version="0" lets the apiserver answer from its watch cache
        (client-go's `FromApiserverCache`), possibly a little stale."""
        return await self.request("GET", res.path(namespace, name), params={"resourceVersion": resource_version})

    async def list(self, res: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, resource_version: str | None = None,
                   limit: int | None = None) -> dict[str, Any]:
        """A full list, following `continue` tokens so callers always see one consistent snapshot."""
        params: dict[str, Any] = {"labelSelector": label_selector, "fieldSelector": field_selector,
                                  "resourceVersion": resource_version, "limit": limit}
        out = await self.request("GET", res.path(namespace), params=params)
        while limit and (out.get("metadata") or {}).get("continue"):
            params["continue"] = out["metadata"]["continue"]
            params.pop("resourceVersion", None)
            page = await self.request("GET", res.path(namespace), params=params)
            out["items"].extend(page.get("items") or [])
            out["metadata"] = page.get("metadata") or {}
        return out

    async def create(self, res: Resource, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        return await self.request("POST", res.path(ns), body=_with_kind(res, obj))

    async def update(self, res: Resource, obj: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        """PUT; the object's resourceVersion makes it a compare-and-swap (409 on a stale read)."""
        md = obj["metadata"]
        return await self.request("PUT", res.path(md.get("namespace"), md["name"], subresource), body=_with_kind(res, obj))

    async def update_status(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.update(res, obj, "status")

    async def patch(self, res: Resource, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None) -> dict[str, Any]:
        return await self.request("PATCH", res.path(namespace, name, subresource), body=patch,
                                  content_type=PATCH_TYPES[patch_type])

    async def delete(self, res: Resource, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None, uid: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if uid:
            body["preconditions"] = {"uid": uid}
        return await self.request("DELETE", res.path(namespace, name), body=body)

    async def bind(self, namespace: str, name: str, node: str, uid: str | None = None) -> dict[str, Any]:
        """POST pods/binding, as the scheduler does: the apiserver sets spec.nodeName atomically."""
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        if uid:
            binding["metadata"]["uid"] = uid
        return await self.request("POST", PODS.path(namespace, name, "binding"), body=binding)

    async def watch(self, res: Resource, namespace: str | None = None, *, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    timeout_seconds: int | None = None,
                    allow_bookmarks: bool = True) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield (type, object) from a watch stream until the server ends it.

        An `ERROR` event is yielded like any other (its object is a Status, e.g. 410 Expired);
        the informer decides what to do with it.
        """
        params = _clean({"watch": "1", "resourceVersion": resource_version, "labelSelector": label_selector,
                         "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                         "allowWatchBookmarks": "true" if allow_bookmarks else None})
        last: Exception | None = None
        for attempt in range(len(self.servers)):
            idx = (self._current + attempt) % len(self.servers)
            try:
                async with self._http.stream("GET", self.servers[idx] + res.path(namespace), params=params,
                                             timeout=None) as r:
                    self._current = idx
                    if r.status_code != 200:
                        await r.aread()
                        _decode(r)
                    async for line in r.aiter_lines():
                        if not line.strip():
                            continue
                        ev = json.loads(line)
                        yield ev.get("type", ""), ev.get("object") or {}
                    return
            except Exception as e:
                kind = _failure(e)
                if kind is None:
                    raise
                if kind == _CONNECT:
                    last = e
                    continue
                raise Unavailable(f"watch {res.plural}: {e!r}") from e  # a full pool, a broken stream: the informer relists
        raise Unavailable(f"no apiserver reachable ({', '.join(self.servers)}): {last!r}") from last


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _with_kind(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    if "kind" in obj and "apiVersion" in obj:
        return obj
    return {"apiVersion": res.group_version, "kind": res.kind, **obj}


def _decode(r: Any) -> Any:
    """A response's JSON body (`status_code`, `content`, `text`, `json()`: a rawhttp
    Response); ApiError for a non-2xx answer."""
    try:
        body = r.json() if r.content else None
    except ValueError:
        body = None
    if r.status_code >= 400:
        raise ApiError(r.status_code, body if isinstance(body, dict) else None, r.text)
    return body
