"""The watch cache: one store watch per resource, fanned out to every watching client.

Many `kubectl get -w`, informers and controllers watch the same resource; without a cache each
would hold its own store watch. The cache lists the resource once, then follows one store watch,
keeping the current objects (so `resourceVersion=0` LISTs and watches are served from memory)
and a window of recent events (so a client resuming from a recent resourceVersion is served
with no gap and no duplicate). Older versions fall back to a dedicated store watch, which
reports 410 Gone once the store has compacted them.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import Any

from ..storage import EtcdClient, StoreError, WatchEvent
from .objects import decode

log = logging.getLogger("apiserver.watchcache")


@dataclass
class CacheEvent:
    """One change to one object, with the object before and after (None when absent)."""

    revision: int
    key: str
    obj: dict[str, Any] | None
    prev: dict[str, Any] | None


def to_cache_events(batch: list[WatchEvent]) -> list[CacheEvent]:
    out = []
    for ev in batch:
        rev = ev.kv.mod_revision
        prev = decode(ev.prev.value, ev.prev.mod_revision) if ev.prev and ev.prev.value else None
        if ev.type == "DELETE":
            if prev is not None:
                prev["metadata"]["resourceVersion"] = str(rev)
            out.append(CacheEvent(rev, ev.kv.key, None, prev))
        else:
            out.append(CacheEvent(rev, ev.kv.key, decode(ev.kv.value, rev), prev))
    return out


class Subscriber:
    CLOSED = object()

    def __init__(self, after: int) -> None:
        self.after = after
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=2000)
        self.closed = False

    def offer(self, ev: CacheEvent | object) -> None:
        if self.closed:
            return
        if isinstance(ev, CacheEvent) and ev.revision <= self.after:
            return
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:  # a client too slow to keep up is dropped; it will re-watch
            self.closed = True
            self.queue = asyncio.Queue()
            self.queue.put_nowait(Subscriber.CLOSED)


class WatchCache:
    """Watches `prefix` in the store from the revision current at start, forever."""

    WINDOW = 5000

    def __init__(self, client: EtcdClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.events: collections.deque[CacheEvent] = collections.deque()
        self.since = 0  # the buffer holds every event with revision > since
        self.rev = 0  # the latest revision this cache knows to be complete
        self.subscribers: set[Subscriber] = set()
        self.objects: dict[str, dict[str, Any]] = {}  # key -> current object, as of self.rev
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def ensure_started(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"watchcache {self.prefix}")
        await self._ready.wait()

    async def _run(self) -> None:
        while True:
            try:
                if not self._ready.is_set():
                    await self._initial_list()
                    self._ready.set()
                async for item in self.client.watch(self.prefix, self.rev + 1):
                    if isinstance(item, int):  # compacted under us: start over, clients must re-list
                        log.warning("watch cache fell behind compaction", extra={"prefix": self.prefix})
                        self._reset()
                        break
                    for ev in to_cache_events(item):
                        self._append(ev)
            except asyncio.CancelledError:
                raise
            except (StoreError, OSError) as e:
                log.warning("store watch broke, resuming", extra={"prefix": self.prefix, "rev": self.rev, "error": str(e)})
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("watch cache failed", extra={"prefix": self.prefix})
                await asyncio.sleep(1)

    async def _initial_list(self) -> None:
        """Read every object under the prefix at one revision, in pages."""
        from ..storage import prefix_end
        objects: dict[str, dict[str, Any]] = {}
        start, end, revision = self.prefix, prefix_end(self.prefix), 0
        while True:
            kvs, more, _, header = await self.client.range(start, end, limit=1000, revision=revision)
            revision = revision or header
            for kv in kvs:
                objects[kv.key] = decode(kv.value, kv.mod_revision)
            if not more or not kvs:
                break
            start = kvs[-1].key + "\0"
        self.objects = objects
        self.rev = self.since = revision
        self.events.clear()

    def snapshot(self, prefix: str) -> tuple[list[dict[str, Any]], int]:
        """The current objects under `prefix` (key order) and the revision they are current at."""
        return [o for k, o in sorted(self.objects.items()) if k.startswith(prefix)], self.rev

    def _reset(self) -> None:
        for s in list(self.subscribers):
            s.offer(Subscriber.CLOSED)
        self.subscribers.clear()
        self.events.clear()
        self._ready.clear()

    def _append(self, ev: CacheEvent) -> None:
        if ev.obj is None:
            self.objects.pop(ev.key, None)
        else:
            self.objects[ev.key] = ev.obj
        self.events.append(ev)
        self.rev = max(self.rev, ev.revision)
        while len(self.events) > self.WINDOW:
            self.since = self.events.popleft().revision
        for s in list(self.subscribers):
            s.offer(ev)
            if s.closed:
                self.subscribers.discard(s)

    def subscribe(self, after: int) -> Subscriber | None:
        """Events with revision > after, replayed from the window then live; None if too old."""
        if after < self.since:
            return None
        sub = Subscriber(after)
        for ev in self.events:
            sub.offer(ev)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
