"""A rate-limited work queue keyed by `namespace/name`, with client-go's workqueue semantics.

- A key added while already queued is queued once (dedup).
- A key added while a worker processes it is re-queued when the worker calls `done`, so two
  workers never handle one key at once and the latest state is always processed again.
- `add_rate_limited` delays a key by its own exponential back-off (base * 2^failures, capped);
  `forget` resets that back-off after a success.
- `add_after` delays a key by a fixed duration (resyncs, retries after a known wait).
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque


class ItemExponentialRateLimiter:
    """Per-item back-off: base * 2^(failures), capped at max_delay (ItemExponentialFailureRateLimiter)."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base = base
        self.max_delay = max_delay
        self.failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        n = self.failures.get(key, 0)
        self.failures[key] = n + 1
        return min(self.base * (2 ** n), self.max_delay)

    def forget(self, key: str) -> None:
        self.failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self.failures.get(key, 0)


class ShutDown(Exception):
    """Raised by `get` once the queue is shut down and drained."""


class WorkQueue:
    def __init__(self, rate_limiter: ItemExponentialRateLimiter | None = None, clock=time.monotonic) -> None:
        self.rate_limiter = rate_limiter or ItemExponentialRateLimiter()
        self.clock = clock
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._cond = asyncio.Condition()
        self._shutting_down = False
        self._timer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._notify()

    def add_after(self, key: str, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        heapq.heappush(self._waiting, (self.clock() + delay, next(self._seq), key))
        self._arm_timer()

    def add_rate_limited(self, key: str) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        self.rate_limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self.rate_limiter.num_requeues(key)

    async def get(self) -> str:
        """The next key; the caller must call `done(key)` when finished with it."""
        async with self._cond:
            while not self._queue:
                if self._shutting_down:
                    raise ShutDown()
                await self._cond.wait()
            key = self._queue.popleft()
            self._processing.add(key)
            self._dirty.discard(key)
            return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        self._shutting_down = True
        if self._timer:
            self._timer.cancel()
        self._notify()

    # -- internals ----------------------------------------------------------------------------

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._cond:
                self._cond.notify_all()
        try:
            asyncio.get_running_loop().create_task(wake())
        except RuntimeError:  # no loop yet: nothing can be waiting
            pass

    def _arm_timer(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()  # an earlier deadline may have arrived: re-evaluate the sleep
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._drain_waiting())

    async def _drain_waiting(self) -> None:
        assert self._wake is not None
        while self._waiting and not self._shutting_down:
            when, _, key = self._waiting[0]
            delay = when - self.clock()
            if delay > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                continue
            heapq.heappop(self._waiting)
            self.add(key)
