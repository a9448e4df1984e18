"""The fake container runtime behind a small CRI-like interface.

The kubelet talks to it only through the CRI's verbs (RunPodSandbox, StopPodSandbox,
RemovePodSandbox, PullImage, CreateContainer, StartContainer, StopContainer, RemoveContainer,
ListContainers, ContainerStatus, ListPodSandbox, ImageStatus, ListImages, plus log reads), so
another runtime could replace it. A "container" here is a `program.Process` on the agent's
event loop; its declared ports are real TCP listeners on the pod's IP that answer HTTP.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kubeling.shared.httpserver import HTTPServer, Request, Response

from . import images
from .program import Context, OOMKilled, Process, StartError

log = logging.getLogger("kubelet.runtime")

CREATED, RUNNING, EXITED, UNKNOWN = "CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN"
SANDBOX_READY, SANDBOX_NOTREADY = "SANDBOX_READY", "SANDBOX_NOTREADY"
WELCOME = {"nginx": "Welcome to nginx!", "httpd": "It works!"}


class ImagePullError(Exception):
    """The fake registry does not know the image (reported as ErrImagePull)."""


@dataclass
class PodSandbox:
    id: str
    name: str
    namespace: str
    uid: str
    ip: str
    hostname: str
    node: str
    state: str = SANDBOX_READY
    created_at: float = field(default_factory=time.time)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class LogLine:
    ts: float
    stream: str
    text: str


@dataclass
class Container:
    id: str
    sandbox_id: str
    name: str
    attempt: int
    image: str
    image_ref: str
    argv: list[str]
    env: dict[str, str]
    ports: list[int]
    labels: dict[str, str] = field(default_factory=dict)
    state: str = CREATED
    created_at: float = field(default_factory=time.time)
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    logs: list[LogLine] = field(default_factory=list)
    process: Process | None = None
    task: asyncio.Task[None] | None = None
    servers: list[HTTPServer] = field(default_factory=list)
    log_changed: asyncio.Event = field(default_factory=asyncio.Event)
    stop_requested: bool = False
    files: dict[str, str] = field(default_factory=dict)
    memory_limit: int = 0


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeRuntime:
    """Pods' sandboxes and containers; `on_exit(container)` tells the kubelet a process ended."""

    def __init__(self, node_name: str, on_exit: Callable[[Container], None] | None = None) -> None:
        self.node_name = node_name
        self.on_exit = on_exit
        self.sandboxes: dict[str, PodSandbox] = {}
        self.containers: dict[str, Container] = {}
        self.pulled: dict[str, str] = {}  # normalized ref -> image id
        self._ids = itertools.count(1)
        self.serve_ports = True  # False for hollow nodes: containers run, but open no sockets
        self.dns: tuple[str, int] | None = None  # cluster DNS server given to containers
        self.cluster_domain = "cluster.local"

    def _new_id(self) -> str:
        return uuid.uuid4().hex + uuid.uuid4().hex[:32]

    # -- images -----------------------------------------------------------------------------

    async def pull_image(self, ref: str) -> str:
        img = images.lookup(ref)
        if img is None:
            repo = images.normalized(ref)
            raise ImagePullError(
                f'failed to pull and unpack image "{repo}": failed to resolve reference "{repo}": '
                f"{repo}: not found")
        await asyncio.sleep(0)  # a pull is a suspension point, as a real one would be
        image_id = img.image_id(ref)
        self.pulled[images.normalized(ref)] = image_id
        return image_id

    def image_status(self, ref: str) -> str | None:
        return self.pulled.get(images.normalized(ref))

    def list_images(self) -> dict[str, str]:
        return dict(self.pulled)

    # -- sandboxes ----------------------------------------------------------------------------

    async def run_pod_sandbox(self, name: str, namespace: str, uid: str, ip: str, hostname: str,
                              labels: dict[str, str] | None = None) -> str:
        sid = self._new_id()
        self.sandboxes[sid] = PodSandbox(sid, name, namespace, uid, ip, hostname, self.node_name, labels=labels or {})
        return sid

    async def stop_pod_sandbox(self, sid: str) -> None:
        for c in self.list_containers(sid):
            if c.state == RUNNING:
                await self.stop_container(c.id, 0)
        sb = self.sandboxes.get(sid)
        if sb:
            sb.state = SANDBOX_NOTREADY

    async def remove_pod_sandbox(self, sid: str) -> None:
        await self.stop_pod_sandbox(sid)
        for c in self.list_containers(sid):
            self.containers.pop(c.id, None)
        self.sandboxes.pop(sid, None)

    def list_pod_sandbox(self) -> list[PodSandbox]:
        return list(self.sandboxes.values())

    # -- containers ---------------------------------------------------------------------------

    async def create_container(self, sid: str, name: str, attempt: int, image: str, argv: list[str],
                               env: dict[str, str], ports: list[int], labels: dict[str, str] | None = None,
                               memory_limit: int = 0) -> str:
        if sid not in self.sandboxes:
            raise KeyError(f"sandbox {sid} not found")
        image_ref = self.image_status(image)
        if image_ref is None:
            raise ImagePullError(f"image {image} not present")
        cid = self._new_id()
        self.containers[cid] = Container(cid, sid, name, attempt, image, image_ref, argv, env, ports, labels or {},
                                         memory_limit=memory_limit)
        return cid

    async def start_container(self, cid: str) -> None:
        """Start the process and its ports. A failed exec leaves the container EXITED with 128."""
        c = self.containers[cid]
        sb = self.sandboxes[c.sandbox_id]
        img = images.lookup(c.image)
        image_ports = tuple(p for p in (img.ports if img else ()) if p not in c.ports)
        ctx = Context(log=lambda line: self._log(c, line), env=dict(c.env), hostname=sb.hostname,
                      serve=lambda: self._serve_forever(c, sb, image_ports), image_ports=img.ports if img else (),
                      files=c.files, pod_ip=sb.ip, memory_limit=c.memory_limit, image=c.image)
        if self.dns:
            from ..dns import resolve
            server, domain, ns = self.dns, self.cluster_domain, sb.namespace
            ctx.resolve = lambda name: resolve(server, name, ns, domain)
            ctx.dns_server = f"{server[0]}:{server[1]}"
        c.started_at = time.time()
        try:
            c.process = Process(c.argv, ctx)
            await self._bind_ports(c, sb, c.ports)
        except (StartError, OSError) as e:
            for s in c.servers:
                await s.close()
            c.servers.clear()
            msg = str(e) if isinstance(e, StartError) else f"failed to listen on {sb.ip}: {e.strerror or e}"
            c.state, c.exit_code, c.reason, c.finished_at = EXITED, 128, "StartError", time.time()
            c.message = f"failed to create containerd task: failed to create shim task: OCI runtime create failed: {msg}: unknown"
            raise StartError(c.message) from e
        c.state = RUNNING
        c.task = asyncio.create_task(self._run(c), name=f"container-{c.name}")

    async def _run(self, c: Container) -> None:
        assert c.process is not None
        oom = False
        try:
            code = await c.process.run()
        except OOMKilled:
            code, oom = 137, True
        except asyncio.CancelledError:
            code = c.exit_code if c.stop_requested and c.exit_code else 137
        except Exception as e:  # an interpreter bug must look like a crash, not kill the agent
            log.exception("fake process failed", extra={"container": c.name})
            self._log(c, f"internal error: {e}")
            code = 1
        for s in c.servers:
            await s.close()
        c.servers.clear()
        c.exit_code = code
        c.reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
        c.finished_at = time.time()
        c.state = EXITED
        c.log_changed.set()
        if self.on_exit:
            self.on_exit(c)

    async def stop_container(self, cid: str, timeout: float) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds (StopContainer's contract)."""
        c = self.containers.get(cid)
        if c is None or c.state != RUNNING or c.task is None or c.process is None:
            return
        c.stop_requested = True
        action = c.process.sigterm()
        if action == "die":
            c.exit_code = 143
            c.task.cancel()
        elif timeout > 0 and action in ("exit", "ignored"):
            try:
                await asyncio.wait_for(asyncio.shield(c.task), timeout)
                return
            except asyncio.TimeoutError:
                pass
        if not c.task.done():
            c.exit_code = 137
            c.task.cancel()
        try:
            await c.task
        except asyncio.CancelledError:
            pass

    async def exec_sync(self, cid: str, argv: list[str], timeout: float) -> tuple[int, list[str]]:
        """ExecSync: run argv inside the container (its env, files, DNS); exit code and output."""
        c = self.containers.get(cid)
        if c is None or c.state != RUNNING or c.process is None:
            return 126, ["container is not running"]
        out: list[str] = []
        base = c.process.ctx
        ctx = Context(log=out.append, env=dict(base.env), hostname=base.hostname, serve=base.serve,
                      image_ports=base.image_ports, resolve=base.resolve, dns_server=base.dns_server, files=c.files,
                      pod_ip=base.pod_ip, pid1=list(c.argv), image=base.image)
        try:
            proc = Process(argv, ctx)
        except StartError as e:
            return 126, [str(e)]
        try:
            return await asyncio.wait_for(proc.run(), timeout), out
        except asyncio.TimeoutError:
            return -1, out + [f"command timed out after {timeout}s"]

    async def remove_container(self, cid: str) -> None:
        await self.stop_container(cid, 0)
        self.containers.pop(cid, None)

    def list_containers(self, sid: str | None = None) -> list[Container]:
        return sorted((c for c in self.containers.values() if sid is None or c.sandbox_id == sid),
                      key=lambda c: c.created_at)

    def container_status(self, cid: str) -> Container | None:
        return self.containers.get(cid)

    # -- logs ---------------------------------------------------------------------------------

    def _log(self, c: Container, line: str) -> None:
        c.logs.append(LogLine(time.time(), "stdout", line))
        if len(c.logs) > 10000:  # the kubelet rotates container logs; keep the newest lines
            del c.logs[:1000]
        c.log_changed.set()

    async def follow_logs(self, cid: str, start: int) -> AsyncIterator[LogLine]:
        """Lines from index `start` on, then new ones until the container exits."""
        c = self.containers[cid]
        i = start
        while True:
            while i < len(c.logs):
                yield c.logs[i]
                i += 1
            if c.state == EXITED:
                return
            c.log_changed.clear()
            await c.log_changed.wait()

    # -- ports --------------------------------------------------------------------------------

    async def _bind_ports(self, c: Container, sb: PodSandbox, ports: list[int] | tuple[int, ...]) -> None:
        if not self.serve_ports:
            return
        for port in ports:
            srv = HTTPServer(self._handler(c, sb, port), sb.ip, port)
            await srv.start()
            c.servers.append(srv)

    async def _serve_forever(self, c: Container, sb: PodSandbox, ports: tuple[int, ...]) -> None:
        await self._bind_ports(c, sb, ports)
        await asyncio.Event().wait()

    def _handler(self, c: Container, sb: PodSandbox, port: int) -> Callable[[Request], Any]:
        async def handle(req: Request) -> Response:
            img = images.lookup(c.image)
            lines = []
            if img and img.repo in WELCOME:
                lines.append(WELCOME[img.repo])
            lines += [f"pod: {sb.name}", f"namespace: {sb.namespace}", f"container: {c.name}", f"image: {c.image}",
                      f"node: {sb.node}", f"podIP: {sb.ip}", f"port: {port}", f"path: {req.path}"]
            body = ("\n".join(lines) + "\n").encode()
            peer = req.peer[0] if req.peer else "-"
            ts = datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
            self._log(c, f'{peer} - - [{ts}] "{req.method} {req.path} HTTP/1.1" 200 {len(body)} "-" '
                         f'"{req.headers.get("user-agent", "-")}"')
            return Response(200, body)
        return handle
