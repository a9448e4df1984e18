"""The kubelet API the apiserver proxies to: /containerLogs/{ns}/{pod}/{container} (tailLines,
follow, previous, timestamps, sinceSeconds, limitBytes), /exec/{ns}/{pod}/{container} (WebSocket,
see exec.py), /pods, and the health endpoints."""
from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LogOptions:
    """The v1 PodLogOptions the kubelet decodes from the query (pkg/kubelet/server/server.go
    getContainerLogs): a value that does not decode is a 400, one ValidatePodLogOptions refuses a 422."""

    previous: bool
    follow: bool
    timestamps: bool
    tail_lines: int | None
    limit_bytes: int | None
    since_seconds: int | None

    def valid(self) -> bool:
        return ((self.tail_lines is None or self.tail_lines >= 0) and (self.limit_bytes is None or self.limit_bytes >= 1)
                and (self.since_seconds is None or self.since_seconds >= 1))


_INT64 = re.compile(r"[+-]?[0-9]+")


def _int64(v: str | None) -> int | None:
    """strconv.ParseInt(v, 10, 64); ValueError when it does not parse."""
    if v is None:
        return None
    if not _INT64.fullmatch(v) or not -(1 << 63) <= int(v) < (1 << 63):
        raise ValueError(v)
    return int(v)


def _bool(v: str | None) -> bool:
    """runtime.Convert_Slice_string_To_bool: present and neither "0" nor "false"."""
    return v is not None and v != "0" and v.lower() != "false"


def _log_options(req: Request) -> LogOptions:
    tail = req.arg("tail")  # the older name of tailLines: "all" is the same as leaving it out
    tail_lines = _int64(tail if tail is not None and tail != "all" else req.arg("tailLines"))
    return LogOptions(_bool(req.arg("previous")), _bool(req.arg("follow")), _bool(req.arg("timestamps")), tail_lines,
                      _int64(req.arg("limitBytes")), _int64(req.arg("sinceSeconds")))


async def container_logs(kubelet: Kubelet, req: Request, ns: str, pod: str, container: str) -> Response:
    try:
        opts = _log_options(req)
    except ValueError:
        return text('{"message": "Unable to decode query."}', 400)
    if not opts.valid():
        return text('{"message": "Invalid request."}', 422)
    rec = next((r for r in kubelet.pods.values()
                if r.pod["metadata"]["name"] == pod and r.pod["metadata"].get("namespace") == ns and not r.deleted), None)
    if rec is None or not rec.sandbox_id:
        return text(f'pod "{pod}" in namespace "{ns}" not found\n', 404)
    latest, previous = kubelet._instances(rec, container)
    want_previous = opts.previous
    target = previous if want_previous else latest
    if target is None:
        if want_previous:
            return text(f'previous terminated container "{container}" in pod "{pod}" not found\n', 400)
        return text(f'container "{container}" in pod "{pod}" is waiting to start: ContainerCreating\n', 400)
    lines = list(target.logs)
    if opts.since_seconds is not None:
        cutoff = time.time() - opts.since_seconds
        lines = [ln for ln in lines if ln.ts >= cutoff]
    start = len(target.logs) - len(lines)
    if opts.tail_lines is not None:
        cut = max(len(lines) - opts.tail_lines, 0)
        lines = lines[cut:]
        start += cut
    stamps = opts.timestamps
    limit = opts.limit_bytes or 0

    def fmt(ln: LogLine) -> bytes:
        return ((_ts(ln.ts) + " " if stamps else "") + ln.text + "\n").encode()

    follow = opts.follow and not want_previous
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
