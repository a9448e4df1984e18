"""The binding cycle's transport: POST pods/<name>/binding over kept-alive HTTP/1.1 connections
(`shared/rawhttp.py`, the client the apiserver also uses for its store calls).

Why a client of its own for this one call: a bind is the scheduler's only per-pod request,
dozens are in flight at once, and it needs little: one POST of a small JSON body, one JSON
answer. `RawHTTPClient.post` sends it with the request head pre-joined and without the generic
`Client.request` path (params, per-request headers, failure classification). With httpx, binds
were 44 % of the scheduler's CPU at 1,000 nodes (py-spy; filtering and scoring 22 %), mostly
connection-pool bookkeeping. Watches, lists, events and status patches use
`kubeling.shared.client.Client`, on the same rawhttp transport.

Same contract as `Client.bind`: the apiserver URLs, bearer token and TLS settings of the
kubeconfig; failover to the next URL only when nothing was sent (connect failed, or a kept-alive
connection turned out closed); a non-2xx answer raises `ApiError` with the decoded Status; a
transport failure raises `Unavailable`.
"""
from __future__ import annotations

import json
import ssl
from typing import Any

from kubeling.shared.client import ApiError, Unavailable
from kubeling.shared.kubeconfig import ClientConfig
from kubeling.shared.rawhttp import RawHTTPClient, RawHTTPError


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """The kubeconfig's TLS settings (the same context its Client uses)."""
    return config.ssl_context()


class Binder:
    def __init__(self, config: ClientConfig, user_agent: str = "kubeling-scheduler", timeout: float = 30.0,
                 connect_timeout: float = 5.0, max_connections: int = 100) -> None:
        self.servers = [s.rstrip("/") for s in config.servers]
        self._current = 0
        tls = ssl_context(config) if any(s.startswith("https:") for s in self.servers) else None
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = RawHTTPClient(timeout=timeout, connect_timeout=connect_timeout, max_connections=max_connections,
                                   ssl_context=tls, headers=headers)

    async def bind(self, namespace: str, name: str, node: str, uid: str | None = None) -> dict[str, Any]:
        binding: dict[str, Any] = {"apiVersion": "v1", "kind": "Binding",
                                   "metadata": {"name": name, "namespace": namespace},
                                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        if uid:
            binding["metadata"]["uid"] = uid
        body = json.dumps(binding, separators=(",", ":")).encode()
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/binding"
        last: Exception | None = None
        for attempt in range(len(self.servers)):
            idx = (self._current + attempt) % len(self.servers)
            try:
                status, data = await self._http.post(self.servers[idx] + path, body)
            except RawHTTPError as e:
                if e.sent:  # sent, maybe processed: not safe to send it to another server
                    raise Unavailable(f"POST {path}: {e}") from e
                last = e  # nothing reached this server: the next one may do better
                continue
            self._current = idx
            try:
                decoded = json.loads(data) if data else None
            except ValueError:
                decoded = None
            if status >= 400:
                raise ApiError(status, decoded if isinstance(decoded, dict) else None, data.decode("utf-8", "replace"))
            return decoded if isinstance(decoded, dict) else {}
        raise Unavailable(f"POST {path}: no apiserver reachable ({', '.join(self.servers)}): {last!r}") from last

    async def aclose(self) -> None:
        await self._http.close()
