"""An async REST client for the Kubernetes API, the only way kubeling's components reach state.

Mirrors what client-go's typed clients do for the few kinds components use: CRUD, the status
and binding subresources, patches of the three types, and watch streams (newline-delimited JSON
events). Failures come back as `ApiError` carrying the Status the apiserver sent, so callers can
branch on `code` (404, 409, 410) as controllers do on `errors.IsNotFound` and friends.

Several server URLs may be configured: a request that cannot connect moves on to the next URL
and the client remembers the one that worked (the components' side of apiserver failover).

Every transport failure - refused or timed-out connects, a full connection pool, a read that
timed out - comes back as `Unavailable`, the one "try again later" error callers handle: none of
httpx's exception types leaks out to crash a controller's worker or a kubelet's heartbeat.
The pool keeps as many idle connections as it may open, so a burst does not end in a storm of
fresh connects to a busy apiserver; callers that must not be starved by others' traffic (the
kubelet's heartbeats, as upstream's separate heartbeat client) use a Client of their own.
"""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

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


# Failures that happen before the request reached a server (or that break the connection): the
# next server URL may do better. Any other transport error is reported as Unavailable at once.
_FAILOVER = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError)


PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}


class Client:
    """One httpx connection pool shared by every request and watch of a component."""

    def __init__(self, config: ClientConfig, user_agent: str = "kubeling", timeout: float = 30.0, *,
                 max_connections: int = 100, connect_timeout: float = 5.0,
                 pool_timeout: float | None = None) -> None:
        """`timeout` bounds each read and write; `pool_timeout` (default: `timeout`) how long a
        request may wait for a free connection; `max_connections` counts watches too."""
        self.config = config
        self.servers = list(config.servers)
        self._current = 0
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = httpx.AsyncClient(headers=headers, verify=config.verify, cert=config.cert,
                                       timeout=httpx.Timeout(timeout, connect=connect_timeout,
                                                             pool=timeout if pool_timeout is None else pool_timeout),
                                       limits=httpx.Limits(max_connections=max_connections,
                                                           max_keepalive_connections=max_connections))
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
            except _FAILOVER as e:
                last = e
                if stale_retry and isinstance(e, (httpx.RemoteProtocolError, httpx.ReadError)):
                    stale_retry = False
                    attempts.insert(0, idx)
                continue
            except httpx.TransportError as e:  # PoolTimeout, ReadTimeout, WriteTimeout, ...
                raise Unavailable(f"{method} {path}: {e!r}") from e
            self._current = idx
            return _decode(r)
        raise Unavailable(f"no apiserver reachable ({', '.join(self.servers)}): {last!r}") from last

    # -- verbs ------------------------------------------------------------------------------------

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return await self.request("GET", res.path(namespace, name))

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
                                             timeout=httpx.Timeout(None, connect=self._connect_timeout)) as r:
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
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                last = e
                continue
            except httpx.TransportError as e:  # a full pool, a broken stream: the informer relists
                raise Unavailable(f"watch {res.plural}: {e!r}") from e
        raise Unavailable(f"no apiserver reachable ({', '.join(self.servers)}): {last!r}") from last


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _with_kind(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    if "kind" in obj and "apiVersion" in obj:
        return obj
    return {"apiVersion": res.group_version, "kind": res.kind, **obj}


def _decode(r: httpx.Response) -> Any:
    try:
        body = r.json() if r.content else None
    except ValueError:
        body = None
    if r.status_code >= 400:
        raise ApiError(r.status_code, body if isinstance(body, dict) else None, r.text)
    return body
