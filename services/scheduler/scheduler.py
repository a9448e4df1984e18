"""The scheduler: informers feed the scheduling queue and the cache; one loop takes the next
pod, runs the framework, assumes the chosen node and binds asynchronously.

As upstream, the scheduling cycle (filter, score, assume) is serial and the binding cycle is
not: each bind is its own task, many are in flight while the next pods are scheduled, and the
assumed pod in the cache keeps them from double-booking a node. A failed bind forgets the
assumption and requeues the pod. The loop yields to the event loop after every cycle so binds,
informer events and events to the apiserver progress while a backlog is worked off, and it
pauses when `max_binds_in_flight` binds are outstanding (the client's connection pool is
finite; more would only queue inside it and time out)."""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from kubeling.shared.client import NODES, PODS, ApiError, Client, Unavailable
from kubeling.shared.events import EventRecorder, now_rfc3339
from kubeling.shared.informer import Handlers, Informer

from .binder import Binder
from .cache import Cache
from .framework.interface import Obj, pod_key
from .framework.runtime import FitError, Framework
from .metrics import Metrics
from .queue import QueuedPodInfo, SchedulingQueue

log = logging.getLogger("scheduler")

TERMINAL = ("Succeeded", "Failed")


def _assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL


def _sched_relevant(pod: Obj) -> tuple[Any, ...]:
    """A pod minus what scheduling ignores (status, resourceVersion): our own status writes must
    not count as an update that retries an unschedulable pod (upstream's isPodUpdated)."""
    md = pod.get("metadata") or {}
    return (md.get("labels"), md.get("annotations"), pod.get("spec"))


def _node_sched_view(node: Obj) -> tuple[Any, ...]:
    """What about a node can change a filter's verdict (heartbeats alone cannot)."""
    md, st = node.get("metadata") or {}, node.get("status") or {}
    return (md.get("labels"), node.get("spec"), st.get("allocatable"), st.get("capacity"))


class Scheduler:
    def __init__(self, client: Client, scheduler_name: str = "default-scheduler",
                 metrics: Metrics | None = None, rng: random.Random | None = None, *,
                 percentage_of_nodes_to_score: int = 0, max_binds_in_flight: int = 64,
                 binder: Binder | None = None) -> None:
        self.client = client
        self.binder = binder or Binder(client.config)
        self.name = scheduler_name
        self.metrics = metrics or Metrics()
        self.rng = rng or random.Random()
        self.queue = SchedulingQueue()
        self.cache = Cache()
        self.framework = Framework(percentage_of_nodes_to_score=percentage_of_nodes_to_score)
        self.max_binds_in_flight = max_binds_in_flight
        self._bind_tasks: set[asyncio.Task[None]] = set()
        self._gauges_at = 0.0
        self.recorder = EventRecorder(client, scheduler_name)
        self.pods = Informer(client, PODS)
        self.nodes = Informer(client, NODES)
        self.pods.add_handlers(Handlers(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handlers(Handlers(self._node_added, self._node_updated, self._node_deleted))
        self._binds: set[asyncio.Task[None]] = set()

    # -- informer handlers (never block) -------------------------------------------------------

    def _responsible(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or "default-scheduler") == self.name

    @staticmethod
    def _gated(pod: Obj) -> bool:
        """SchedulingGates (PreEnqueue): a pod with gates is not tried until they are removed."""
        return bool((pod.get("spec") or {}).get("schedulingGates"))

    def _pod_added(self, pod: Obj) -> None:
        if _assigned(pod):
            if not _terminal(pod):
                self.cache.add_or_update_pod(pod)
            self.queue.done(pod)
        elif self._responsible(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp") and not self._gated(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if _assigned(new):
            self.queue.done(new)
            if _terminal(new):
                self.cache.remove_pod(new)
                self.queue.move_all_to_active_or_backoff("AssignedPodTerminated")
            else:
                self.cache.add_or_update_pod(new)
        elif self._responsible(new):
            if (new.get("metadata") or {}).get("deletionTimestamp") or self._gated(new):
                self.queue.delete(new)
            elif _sched_relevant(old) != _sched_relevant(new):
                self.queue.update(new)
            else:
                self.queue.refresh(new)

    def _pod_deleted(self, pod: Obj) -> None:
        if _assigned(pod) or self.cache.is_assumed(pod):
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff("AssignedPodDelete")
        self.queue.delete(pod)

    def _node_added(self, node: Obj) -> None:
        self.cache.add_or_update_node(node)
        self.queue.move_all_to_active_or_backoff("NodeAdd")

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.add_or_update_node(new)
        if _node_sched_view(old) != _node_sched_view(new):
            self.queue.move_all_to_active_or_backoff("NodeUpdate")

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node)

    # -- running -------------------------------------------------------------------------------

    def start_informers(self) -> None:
        self.nodes.start()
        self.pods.start()

    async def wait_synced(self) -> None:
        await self.nodes.synced.wait()
        await self.pods.synced.wait()

    def ready(self) -> bool:
        return self.nodes.synced.is_set() and self.pods.synced.is_set()

    async def run(self) -> None:
        """The scheduling loop; runs while this instance leads."""
        await self.wait_synced()
        log.info("scheduling loop started", extra={"scheduler": self.name})
        while True:
            while len(self._bind_tasks) >= self.max_binds_in_flight:
                await asyncio.wait(list(self._bind_tasks), return_when=asyncio.FIRST_COMPLETED)
            info = await self.queue.pop()
            if info is None:
                return
            await self.schedule_one(info)
            self._update_gauges()
            await asyncio.sleep(0)  # let binds, watches and events progress between cycles

    def _update_gauges(self) -> None:
        """scheduler_pending_pods, at most every half second: counting walks the whole queue."""
        now = time.monotonic()
        if now - self._gauges_at < 0.5:
            return
        self._gauges_at = now
        for q, n in self.queue.counts().items():
            self.metrics.pending.labels(q).set(n)

    async def schedule_one(self, info: QueuedPodInfo) -> None:
        pod = info.pod
        key = pod_key(pod)
        current = self.pods.get(key)
        if current is None or _assigned(current) or (current.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.done(pod)
            return
        pod = info.pod = current
        started = time.perf_counter()
        try:
            node, _scores = self.framework.schedule(pod, self.cache.snapshot(), self.rng)
        except FitError as e:
            self.metrics.attempts.labels("unschedulable", self.name).inc()
            self.metrics.attempt_duration.labels("unschedulable").observe(time.perf_counter() - started)
            log.info("unschedulable", extra={"pod": key, "reason": e.message})
            self.recorder.event(pod, "Warning", "FailedScheduling", e.message, "Scheduling")
            self._set_unschedulable_condition(pod, e.message)
            self.queue.add_unschedulable(info)
            return
        assumed = self.cache.assume(pod, node)
        self.metrics.attempt_duration.labels("scheduled").observe(time.perf_counter() - started)
        t = asyncio.create_task(self._bind(info, assumed, node))
        self._binds.add(t)
        self._bind_tasks.add(t)
        t.add_done_callback(self._binds.discard)
        t.add_done_callback(self._bind_tasks.discard)

    async def _bind(self, info: QueuedPodInfo, assumed: Obj, node: str) -> None:
        md = assumed["metadata"]
        try:
            await self.binder.bind(md["namespace"], md["name"], node, md.get("uid"))
        except (ApiError, Unavailable, OSError) as e:
            self.cache.forget(assumed)
            self.metrics.attempts.labels("error", self.name).inc()
            log.warning("binding rejected", extra={"pod": pod_key(assumed), "node": node, "err": str(e)[:200]})
            if isinstance(e, ApiError) and e.code == 404:
                self.queue.delete(assumed)
                return
            self.recorder.event(info.pod, "Warning", "FailedScheduling", f"binding rejected: {e}", "Binding")
            self.queue.requeue_after_error(info)
            return
        self.cache.finish_binding(assumed)
        self.queue.done(assumed)
        self.metrics.attempts.labels("scheduled", self.name).inc()
        log.info("bound", extra={"pod": pod_key(assumed), "node": node, "attempts": info.attempts})
        self.recorder.event(info.pod, "Normal", "Scheduled",
                            f"Successfully assigned {md['namespace']}/{md['name']} to {node}", "Binding")

    def _set_unschedulable_condition(self, pod: Obj, message: str) -> None:
        """PodScheduled=False/Unschedulable on the pod's status, as `kubectl describe` shows it."""
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("message") == message:
                return
        md = pod["metadata"]
        patch = {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                            "message": message, "lastProbeTime": None,
                                            "lastTransitionTime": now_rfc3339()}]}}

        async def send() -> None:
            try:
                await self.client.patch(PODS, md["name"], patch, md["namespace"], patch_type="strategic",
                                        subresource="status")
            except (ApiError, Unavailable, OSError) as e:
                log.warning("could not update pod condition", extra={"pod": pod_key(pod), "err": str(e)[:200]})
        t = asyncio.create_task(send())
        self._binds.add(t)
        t.add_done_callback(self._binds.discard)

    async def shutdown(self) -> None:
        self.queue.close()
        if self._binds:
            await asyncio.wait(list(self._binds), timeout=5)
        await self.recorder.flush()
        await self.binder.aclose()
        await self.pods.stop()
        await self.nodes.stop()
