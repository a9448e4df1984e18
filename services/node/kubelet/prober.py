"""Liveness, readiness and startup probes (upstream's prober manager and workers).

One worker per probe per running container: it waits `initialDelaySeconds`, then probes every
`periodSeconds` with a `timeoutSeconds` limit, and counts consecutive results against
`successThreshold` / `failureThreshold`. Readiness drives the container's `ready` (False until
the first success); a startup probe holds back the other two until it succeeds; a liveness or
startup failure kills the container, which then restarts as its restartPolicy says. Probe
actions: httpGet (the pod IP unless `host` is set; named ports resolve through the container's
ports), tcpSocket, and exec (run through the container's interpreter, sharing its files).
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kubeling.shared import rawhttp

from .runtime import RUNNING, FakeRuntime

log = logging.getLogger("kubelet.prober")
Obj = dict[str, Any]


@dataclass
class ContainerProbes:
    ready: bool
    started: bool
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


_insecure: ssl.SSLContext | None = None


def _insecure_tls() -> ssl.SSLContext:
    """HTTPS probes do not verify the container's certificate (as upstream's prober). A bare
    client context, built once: no trust store is loaded for a context that verifies nothing."""
    global _insecure
    if _insecure is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _insecure = ctx
    return _insecure


def _port(container: Obj, port: Any) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"unknown port name {port!r}")


async def run_probe(runtime: FakeRuntime, cid: str, pod_ip: str, container: Obj, spec: Obj) -> tuple[bool, str]:
    """One probe; (success, message as upstream words a failure)."""
    timeout = float(spec.get("timeoutSeconds") or 1)
    if "exec" in spec:
        code, out = await runtime.exec_sync(cid, list((spec["exec"] or {}).get("command") or []), timeout)
        if code == 0:
            return True, ""
        if code == -1:
            return False, f"command {(spec['exec'] or {}).get('command')} timed out"
        return False, "\n".join(out) or f"command terminated with exit code {code}"
    if "httpGet" in spec:
        hg = spec["httpGet"] or {}
        try:
            port = _port(container, hg.get("port"))
        except ValueError as e:
            return False, str(e)
        host = hg.get("host") or pod_ip
        scheme = (hg.get("scheme") or "HTTP").lower()
        url = f"{scheme}://{host}:{port}{hg.get('path') or '/'}"
        headers = {h["name"]: h.get("value", "") for h in hg.get("httpHeaders") or [] if h.get("name")}
        try:
            # one connection per probe, closed after it (upstream's prober disables keep-alive)
            async with rawhttp.RawHTTPClient(timeout=timeout, connect_timeout=timeout, max_connections=1,
                                             ssl_context=_insecure_tls()) as c:
                r = await c.get(url, headers={"User-Agent": "kube-probe/1.32", "Connection": "close", **headers})
        except (rawhttp.ConnectTimeout, rawhttp.ReadTimeout, rawhttp.PoolTimeout):
            return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        except rawhttp.RawHTTPError:
            return False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused'
        if 200 <= r.status_code < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {r.status_code}"
    if "tcpSocket" in spec:
        ts = spec["tcpSocket"] or {}
        try:
            port = _port(container, ts.get("port"))
        except ValueError as e:
            return False, str(e)
        host = ts.get("host") or pod_ip
        try:
            _, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            w.close()
            return True, ""
        except (OSError, asyncio.TimeoutError):
            return False, f"dial tcp {host}:{port}: connect: connection refused"
    return True, ""  # grpc probes are not simulated: treated as passing


class Prober:
    """Starts and stops the probe workers of each container; reports through callbacks."""

    def __init__(self, runtime: FakeRuntime, on_change: Callable[[str], None],
                 on_unhealthy: Callable[[str, str, str, str], None],
                 kill: Callable[[str, str, str], Awaitable[None]]) -> None:
        self.runtime = runtime
        self.on_change = on_change  # (cid) a readiness/started result changed: recompute status
        self.on_unhealthy = on_unhealthy  # (cid, kind, container name, message): the Unhealthy event
        self.kill = kill  # (cid, container name, kind): kill a container that failed liveness/startup
        self.containers: dict[str, ContainerProbes] = {}

    def start(self, cid: str, container: Obj, pod_ip: str) -> None:
        specs = {k: container.get(f"{k}Probe") for k in ("startup", "liveness", "readiness")}
        state = ContainerProbes(ready=not specs["readiness"], started=not specs["startup"])
        self.containers[cid] = state
        for kind, spec in specs.items():
            if spec:
                state.tasks.append(asyncio.create_task(self._worker(cid, container, pod_ip, kind, spec),
                                                       name=f"probe-{kind}-{container['name']}"))

    def stop(self, cid: str) -> None:
        state = self.containers.pop(cid, None)
        if state:
            for t in state.tasks:
                t.cancel()

    def ready(self, cid: str) -> bool:
        s = self.containers.get(cid)
        return s.ready if s else True

    def started(self, cid: str) -> bool:
        s = self.containers.get(cid)
        return s.started if s else True

    async def _worker(self, cid: str, container: Obj, pod_ip: str, kind: str, spec: Obj) -> None:
        period = float(spec.get("periodSeconds") or 10)
        success_needed = int(spec.get("successThreshold") or 1)
        failures_allowed = int(spec.get("failureThreshold") or 3)
        await asyncio.sleep(float(spec.get("initialDelaySeconds") or 0))
        successes = failures = 0
        while True:
            c = self.runtime.container_status(cid)
            state = self.containers.get(cid)
            if c is None or c.state != RUNNING or state is None:
                return
            if kind != "startup" and not state.started:
                await asyncio.sleep(min(period, 1.0))
                continue
            ok, msg = await run_probe(self.runtime, cid, self.runtime.sandboxes[c.sandbox_id].ip, container, spec)
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self.on_unhealthy(cid, kind, container["name"], msg)
            if kind == "readiness":
                if ok and successes >= success_needed and not state.ready:
                    state.ready = True
                    self.on_change(cid)
                elif not ok and failures >= failures_allowed and state.ready:
                    state.ready = False
                    self.on_change(cid)
            elif kind == "startup":
                if ok:
                    state.started = True
                    self.on_change(cid)
                    return
                if failures >= failures_allowed:
                    await self.kill(cid, container["name"], kind)
                    return
            elif kind == "liveness" and failures >= failures_allowed:
                await self.kill(cid, container["name"], kind)
                return
            await asyncio.sleep(period)
