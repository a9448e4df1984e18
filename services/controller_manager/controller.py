"""The shape every controller shares, as upstream's sample-controller has it.

Informer handlers only enqueue `namespace/name` keys; `workers` tasks take keys off a
rate-limited work queue and call `sync(key)`, which reads the current object from the informer
cache and drives the cluster one step toward it. A failing sync is retried with per-key
exponential back-off; a successful one resets the back-off. Because the queue never hands one
key to two workers and re-queues keys added while they are processed, `sync` may assume it is
the only one working on its object.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from kubeling.shared.client import ApiError, Client, Resource, Unavailable
from kubeling.shared.events import EventRecorder
from kubeling.shared.informer import Informer
from kubeling.shared.workqueue import ItemExponentialRateLimiter, ShutDown, WorkQueue

from .metrics import Metrics

Obj = dict[str, Any]


@dataclass
class Options:
    """The flags controllers read (durations in seconds)."""
    cluster_cidr: str = ""
    node_cidr_mask_size: int = 24
    allocate_node_cidrs: bool = True
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    node_startup_grace_period: float = 60.0
    pod_eviction_timeout: float = 300.0
    terminated_pod_gc_threshold: int = 12500
    concurrent: dict[str, int] = field(default_factory=dict)


class InformerFactory:
    """One informer per resource, shared by every controller that asks (SharedInformerFactory)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.informers: dict[str, Informer] = {}

    def get(self, res: Resource) -> Informer:
        key = f"{res.group_version}/{res.plural}"
        inf = self.informers.get(key)
        if inf is None:
            inf = self.informers[key] = Informer(self.client, res)
        return inf

    def start(self) -> None:
        for inf in self.informers.values():
            if inf._task is None:
                inf.start()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(inf.synced.wait() for inf in self.informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self.informers.values()))


@dataclass
class Context:
    """What the manager hands every controller."""
    client: Client
    informers: InformerFactory
    recorder: EventRecorder
    options: Options
    metrics: Metrics
    identity: str = ""


class Controller:
    """Base class: subclasses set `name`, register handlers in __init__, and implement `sync`."""

    name = "controller"
    event_source = "controller-manager"  # upstream's per-controller event source ("From" in kubectl describe)
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.recorder = EventRecorder(ctx.client, self.event_source, reporting_instance=ctx.identity)
        self.options = ctx.options
        self.log = logging.getLogger(f"controller-manager.{self.name}")
        self.queue = WorkQueue(ItemExponentialRateLimiter(base=0.005, max_delay=60.0))
        self.workers = ctx.options.concurrent.get(self.name, self.default_workers)

    def informer(self, res: Resource) -> Informer:
        return self.ctx.informers.get(res)

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(key_of(obj))

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        """Run workers (plus `background()`) until cancelled."""
        tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self.workers)]
        tasks.append(asyncio.create_task(self.background(), name=f"{self.name}-background"))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def background(self) -> None:
        """Periodic work besides the queue (node monitoring, resyncs); none by default."""

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
                self.queue.forget(key)
                self.ctx.metrics.syncs.labels(self.name, "success").inc()
            except asyncio.CancelledError:
                raise
            except (ApiError, Unavailable, OSError) as e:
                self.ctx.metrics.syncs.labels(self.name, "error").inc()
                self.log.info("sync failed; retrying", extra={"key": key, "err": str(e)[:300]})
                self.queue.add_rate_limited(key)
            except Exception:
                self.ctx.metrics.syncs.labels(self.name, "error").inc()
                self.log.exception("sync crashed; retrying", extra={"key": key})
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)


def key_of(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{ns}/{md.get('name', '')}" if ns else md.get("name", "")


def split_key(key: str) -> tuple[str | None, str]:
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else (None, ns)
