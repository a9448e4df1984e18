"""The binding cycle's transport: POST pods/<name>/binding over kept-alive HTTP/1.1 connections
(`shared/rawhttp.py`, the client the apiserver also uses for its store calls).

Why not the shared httpx client for this one call: a bind is the scheduler's only per-pod
request, dozens are in flight at once, and httpx/httpcore spend more CPU per request in
connection-pool bookkeeping (which walks every pooled connection per request) than the
whole scheduling cycle of a pod takes at 1,000 nodes (measured with py-spy: 44 % of the
scheduler's CPU went to binds, 22 % to filtering and scoring). A bind needs little: one POST
of a small JSON body, one JSON answer framed by Content-Length or chunked encoding. Watches,
lists, events and status patches still use `kubeling.shared.client.Client`.

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
    """The TLS settings httpx derives from a ClientConfig (verify = bool, CA path or context;
    cert = client certificate and key)."""
    v = config.verify
    if isinstance(v, ssl.SSLContext):
        ctx = v
    elif isinstance(v, str):
        ctx = ssl.create_default_context(cafile=v)
    else:
        ctx = ssl.create_default_context()
        if v is False:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    if config.cert:
        ctx.load_cert_chain(*config.cert)
    return ctx


class Binder:
    def __init__(self, config: ClientConfig, user_agent: str = "kubeling-scheduler", timeout: float = 30.0,
                 connect_timeout: float = 5.0, max_idle: int = 64) -> None:
        self.servers = [s.rstrip("/") for s in config.servers]
        self._current = 0
        tls = ssl_context(config) if any(s.startswith("https:") for s in self.servers) else None
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._http = RawHTTPClient(timeout=timeout, connect_timeout=connect_timeout, max_idle=max_idle,
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
