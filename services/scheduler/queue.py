"""The scheduling queue, as upstream's PriorityQueue: three sub-queues.

- activeQ: pods ready to be tried, ordered by priority (higher first) then by when they were
  queued (older first) - the QueueSort plugin PrioritySort.
- backoffQ: pods that failed recently, each waiting out its own back-off (1 s doubling to 10 s,
  upstream's podInitialBackoffSeconds / podMaxBackoffSeconds).
- unschedulable: pods no node fits. They stay there until a cluster event (a node added or
  changed, a pod deleted) might make them fit, then move to backoffQ or activeQ; after
  5 minutes they are retried anyway (podMaxInUnschedulablePodsDuration).
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .framework.interface import Obj, pod_key

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE = 300.0


@dataclass
class QueuedPodInfo:
    pod: Obj
    timestamp: float
    attempts: int = 0
    initial_attempt: float | None = None
    unschedulable_since: float = 0.0
    backoff_until: float = 0.0
    gen: int = field(default=0)
    popped_at_move: int = 0  # the queue's move counter when this attempt started


def priority(pod: Obj) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


class SchedulingQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.infos: dict[str, QueuedPodInfo] = {}
        self.where: dict[str, str] = {}  # key -> "active" | "backoff" | "unschedulable" | "inflight"
        self._active: list[tuple[int, float, int, str, int]] = []
        self._seq = itertools.count()
        self._cond = asyncio.Condition()
        self._closed = False
        self._ticker: asyncio.Task[None] | None = None
        self._moves = 0  # bumped by every cluster event and by updates to in-flight pods

    # -- sizes for metrics -------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        out = {"active": 0, "backoff": 0, "unschedulable": 0}
        for w in self.where.values():
            if w in out:
                out[w] += 1
        return out

    # -- adding and updating -----------------------------------------------------------------

    def add(self, pod: Obj) -> None:
        """A new pending pod (or one seen again after a relist): straight to activeQ."""
        k = pod_key(pod)
        if k in self.infos:
            self.update(pod)
            return
        self.infos[k] = QueuedPodInfo(pod, self.clock())
        self._push_active(k)

    def update(self, pod: Obj) -> None:
        """The pod changed (labels, tolerations, requests): retry an unschedulable one now."""
        k = pod_key(pod)
        info = self.infos.get(k)
        if info is None:
            self.add(pod)
            return
        info.pod = pod
        if self.where.get(k) == "inflight":
            self._moves += 1  # the attempt in progress saw an older pod: don't park it for long
        if self.where.get(k) == "unschedulable":
            self._move_out_of_unschedulable(k)

    def refresh(self, pod: Obj) -> None:
        """Keep the newest object without treating the change as a reason to retry."""
        info = self.infos.get(pod_key(pod))
        if info is not None:
            info.pod = pod

    def delete(self, pod: Obj) -> None:
        k = pod_key(pod)
        self.infos.pop(k, None)
        self.where.pop(k, None)  # stale heap entries are skipped by pop()

    def add_unschedulable(self, info: QueuedPodInfo, backoff: bool = True) -> None:
        """A scheduling attempt failed: park the pod until something changes."""
        k = pod_key(info.pod)
        if k not in self.infos:
            return  # deleted while we were trying
        now = self.clock()
        info.unschedulable_since = now
        info.backoff_until = now + self.backoff_duration(info) if backoff else now
        if self._moves != info.popped_at_move:
            # Something changed while the attempt ran (upstream's moveRequestCycle): the verdict
            # may be stale, so retry after the back-off rather than waiting for another event.
            self.where[k] = "backoff"
            self._ensure_ticker()
            return
        self.where[k] = "unschedulable"

    def requeue_after_error(self, info: QueuedPodInfo) -> None:
        """An error (not a fit failure, e.g. a rejected bind): retry after its back-off."""
        k = pod_key(info.pod)
        if k not in self.infos:
            return
        info.backoff_until = self.clock() + self.backoff_duration(info)
        self.where[k] = "backoff"
        self._ensure_ticker()

    def done(self, pod: Obj) -> None:
        """The pod was bound (or is no longer ours): forget it."""
        self.delete(pod)

    def backoff_duration(self, info: QueuedPodInfo) -> float:
        return min(INITIAL_BACKOFF * (2 ** max(info.attempts - 1, 0)), MAX_BACKOFF)

    def move_all_to_active_or_backoff(self, event: str) -> None:
        """A cluster event that may make unschedulable pods fit (MoveAllToActiveOrBackoffQueue)."""
        self._moves += 1
        for k, w in list(self.where.items()):
            if w == "unschedulable":
                self._move_out_of_unschedulable(k)

    def _move_out_of_unschedulable(self, k: str) -> None:
        info = self.infos[k]
        if info.backoff_until > self.clock():
            self.where[k] = "backoff"
            self._ensure_ticker()
        else:
            self._push_active(k)

    def _push_active(self, k: str) -> None:
        info = self.infos[k]
        info.gen += 1
        self.where[k] = "active"
        heapq.heappush(self._active, (-priority(info.pod), info.timestamp, next(self._seq), k, info.gen))
        self._notify()

    # -- popping -----------------------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to try (None once closed). It is 'in flight' until re-queued or done."""
        self._ensure_ticker()
        async with self._cond:
            while True:
                while self._active:
                    _, _, _, k, gen = heapq.heappop(self._active)
                    info = self.infos.get(k)
                    if info is None or self.where.get(k) != "active" or info.gen != gen:
                        continue
                    self.where[k] = "inflight"
                    info.popped_at_move = self._moves
                    info.attempts += 1
                    if info.initial_attempt is None:
                        info.initial_attempt = self.clock()
                    return info
                if self._closed:
                    return None
                await self._cond.wait()

    def close(self) -> None:
        self._closed = True
        if self._ticker:
            self._ticker.cancel()
        self._notify()

    def flush(self) -> None:
        """Move pods whose back-off expired to activeQ, and long-parked pods out of unschedulable."""
        now = self.clock()
        for k, w in list(self.where.items()):
            info = self.infos.get(k)
            if info is None:
                continue
            if w == "backoff" and info.backoff_until <= now:
                self._push_active(k)
            elif w == "unschedulable" and now - info.unschedulable_since >= MAX_IN_UNSCHEDULABLE:
                self._move_out_of_unschedulable(k)

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            try:
                self._ticker = asyncio.get_running_loop().create_task(self._tick())
            except RuntimeError:
                pass

    async def _tick(self) -> None:
        # Upstream flushes backoffQ every second; a finer tick keeps short back-offs honest.
        while not self._closed:
            await asyncio.sleep(0.2)
            self.flush()

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._cond:
                self._cond.notify_all()
        try:
            asyncio.get_running_loop().create_task(wake())
        except RuntimeError:
            pass
