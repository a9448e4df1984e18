"""The kubelet API the apiserver proxies to: /containerLogs/{ns}/{pod}/{container} (tailLines,
follow, previous, timestamps, sinceSeconds, limitBytes), /exec/{ns}/{pod}/{container} (WebSocket,
see exec.py), /pods, and the health endpoints."""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

from kubeling.shared.httpserver import Request, Response, text

from . import cri_api
from .exec import exec_endpoint
from .kubelet import Kubelet
from .runtime import LogLine


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def kubelet_api(kubelet: Kubelet, fallback: Callable[[Request], Response | None],
                proxier: Any = None) -> Callable[[Request], object]:
    async def handle(req: Request) -> Response:
        if req.path == "/proxyRules":
            if proxier is None:
                return text("kube-proxy is not running in this node agent\n", 404)
            return text(proxier.rules())
        parts = req.path.strip("/").split("/")
        if parts[0] == "containerLogs" and len(parts) == 4 and req.method in ("GET", "HEAD"):
            return await container_logs(kubelet, req, *parts[1:])
        if parts[0] == "exec" and len(parts) == 4 and req.method in ("GET", "POST"):
            return exec_endpoint(kubelet, req, *parts[1:])
        cri = cri_api.handle(kubelet.runtime, req)
        if cri is not None:
            return cri
        if req.path == "/pods":
            items = [rec.pod for rec in kubelet.pods.values() if not rec.deleted]
            return Response(200, json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}).encode(),
                            "application/json")
        return fallback(req) or text("404 page not found\n", 404)
    return handle


async def container_logs(kubelet: Kubelet, req: Request, ns: str, pod: str, container: str) -> Response:
    rec = next((r for r in kubelet.pods.values()
                if r.pod["metadata"]["name"] == pod and r.pod["metadata"].get("namespace") == ns and not r.deleted), None)
    if rec is None or not rec.sandbox_id:
        return text(f'pod "{pod}" in namespace "{ns}" not found\n', 404)
    latest, previous = kubelet._instances(rec, container)
    want_previous = req.arg("previous") in ("true", "1")
    target = previous if want_previous else latest
    if target is None:
        if want_previous:
            return text(f'previous terminated container "{container}" in pod "{pod}" not found\n', 400)
        return text(f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating\n', 400)
    lines = list(target.logs)
    since = req.arg("sinceSeconds")
    if since:
        cutoff = time.time() - float(since)
        lines = [ln for ln in lines if ln.ts >= cutoff]
    tail = req.arg("tailLines")
    start = len(target.logs) - len(lines)
    if tail is not None and int(tail) >= 0:
        cut = max(len(lines) - int(tail), 0)
        lines = lines[cut:]
        start += cut
    stamps = req.arg("timestamps") in ("true", "1")
    limit = int(req.arg("limitBytes") or 0)

    def fmt(ln: LogLine) -> bytes:
        return ((_ts(ln.ts) + " " if stamps else "") + ln.text + "\n").encode()

    follow = req.arg("follow") in ("true", "1") and not want_previous
    if not follow:
        body = b"".join(fmt(ln) for ln in lines)
        return Response(200, body[:limit] if limit else body)

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        async for ln in kubelet.runtime.follow_logs(target.id, start):
            chunk = fmt(ln)
            if limit and sent + len(chunk) > limit:
                yield chunk[: limit - sent]
                return
            sent += len(chunk)
            yield chunk
    return Response(200, stream=stream())


def health_api(routes: Callable[[Request], Response | None]) -> Callable[[Request], object]:
    """The kubelet's `--healthz-port` listener: /healthz, /livez and /readyz only, plain HTTP and
    unauthenticated (upstream's 10248), so a health checker needs no credential once the kubelet
    API itself requires one."""
    async def handle(req: Request) -> Response:
        if req.path in ("/healthz", "/livez", "/readyz"):
            resp = routes(req)
            if resp is not None:
                return resp
        return text("404 page not found\n", 404)
    return handle
