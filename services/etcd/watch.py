"""The watchable layer: watch streams served from this member's own applied log.

Like etcd's watchableStore, every watcher remembers the next revision it needs; after each applied
entry the hub moves every watcher forward through the event log (mvcc.MVCCStore.log). A watcher
that starts in the past is simply behind and catches up the same way; one whose next revision
has been compacted away is cancelled with `compact_revision`. A stream whose client reads slowly
stops being fed (its watchers keep their position in the log), so memory stays bounded and no
event is skipped.

`notify` is called where entries are applied (inside pysyncobj's tick, on the loop or on its own
thread) and only schedules the dispatch on the loop.
"""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from . import codec, errors
from .codec import get_bool, get_bytes, get_enum, get_int, get_list, get_obj
from .mvcc import DELETE, PUT, Event, in_range, normalize_end
from .statemachine import KVStateMachine

MAX_QUEUED_MESSAGES = 256  # per stream; beyond this its watchers wait in the log
MAX_EVENTS_PER_MESSAGE = 1000


class Watcher:
    __slots__ = ("id", "key", "end", "next_rev", "prev_kv", "no_put", "no_delete", "progress_notify", "stream")

    def __init__(self, wid: int, key: bytes, end, next_rev: int, prev_kv: bool, filters: list[int],
                 progress_notify: bool, stream: "WatchStream") -> None:
        self.id = wid
        self.key = key
        self.end = end
        self.next_rev = next_rev
        self.prev_kv = prev_kv
        self.no_put = 0 in filters
        self.no_delete = 1 in filters
        self.progress_notify = progress_notify
        self.stream = stream

    def wants(self, ev: Event) -> bool:
        if ev.type == PUT and self.no_put or ev.type == DELETE and self.no_delete:
            return False
        return in_range(ev.kv.key, self.key, self.end)


class WatchHub:
    def __init__(self, sm: KVStateMachine, header: Callable[[int | None], dict], loop: asyncio.AbstractEventLoop,
                 progress_interval: float = 600.0, threadsafe: bool = True) -> None:
        self.sm = sm
        self.threadsafe = threadsafe  # False when Raft applies on the event loop itself
        self.header = header
        self.loop = loop
        self.progress_interval = progress_interval
        self.watchers: set[Watcher] = set()
        self._scheduled = False
        self.events_sent = 0

    # -- called where entries are applied: the tick thread, or the loop
    def notify(self, rev: int | None = None) -> None:
        if not self._scheduled:
            self._scheduled = True
            try:
                if self.threadsafe:
                    self.loop.call_soon_threadsafe(self._dispatch)
                else:
                    self.loop.call_soon(self._dispatch)
            except RuntimeError:
                pass

    # -- loop thread
    def wake(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        if not self.watchers:
            return
        out: list[tuple[Watcher, list[Event] | None, int]] = []
        with self.sm.lock:
            store = self.sm.store
            cur = store.rev
            for w in list(self.watchers):
                if w.next_rev > cur or w.stream.congested():
                    continue
                if w.next_rev < store.compact_rev:
                    out.append((w, None, store.compact_rev))
                    continue
                events: list[Event] = []
                last = w.next_rev - 1
                for rev, evs in store.events_since(w.next_rev):
                    events.extend(ev for ev in evs if w.wants(ev))
                    last = rev
                    if len(events) >= MAX_EVENTS_PER_MESSAGE:
                        break
                w.next_rev = last + 1
                if events:
                    out.append((w, events, last))
                if last < cur and len(events) >= MAX_EVENTS_PER_MESSAGE:
                    self.wake()  # more to send once this batch is out
        for w, events, rev in out:
            if events is None:
                self.watchers.discard(w)
                w.stream.send_compacted(w, rev)
            else:
                self.events_sent += len(events)
                w.stream.send_events(w, events, rev)

    def add(self, w: Watcher) -> None:
        self.watchers.add(w)
        self.wake()

    def remove(self, w: Watcher) -> None:
        self.watchers.discard(w)


class WatchStream:
    """One `/v3/watch` HTTP stream: its requests in, its responses out (newline-delimited JSON)."""

    def __init__(self, hub: WatchHub) -> None:
        self.hub = hub
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.watchers: dict[int, Watcher] = {}
        self._next_id = itertools.count()
        self._auto_id = 0
        self._progress_task: asyncio.Task | None = None

    def congested(self) -> bool:
        return self.queue.qsize() >= MAX_QUEUED_MESSAGES

    def _put(self, result: dict) -> None:
        self.queue.put_nowait(codec.dumps({"result": result}) + b"\n")

    def on_drained(self) -> None:
        """The writer took messages off a congested queue: let the hub feed us again."""
        self.hub.wake()

    # ---------------------------------------------------------- requests

    def handle(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            raise errors.EtcdError(f"json: cannot unmarshal {codec.go_json_type(msg)} into Go value of type "
                                   "etcdserverpb.WatchRequest", errors.UNKNOWN)
        if "create_request" in msg:
            self._create(get_obj(msg, "create_request"))
        elif "cancel_request" in msg:
            self._cancel(get_int(get_obj(msg, "cancel_request"), "watch_id"))
        elif "progress_request" in msg:
            with self.hub.sm.lock:
                rev = self.hub.sm.store.rev
            self._put({"header": self.hub.header(rev), "watch_id": "-1"})

    def _create(self, cr: dict) -> None:
        key = get_bytes(cr, "key")
        range_end = get_bytes(cr, "range_end")
        start = get_int(cr, "start_revision")
        wid = get_int(cr, "watch_id")
        filters = [get_enum({"f": f}, "f", codec.WATCH_FILTERS) for f in get_list(cr, "filters")]
        prev_kv = get_bool(cr, "prev_kv")
        progress = get_bool(cr, "progress_notify")
        with self.hub.sm.lock:
            cur = self.hub.sm.store.rev
        end = normalize_end(range_end)
        reason = None
        if isinstance(end, bytes) and key >= end:
            reason = errors.WATCH_EMPTY_RANGE
        elif wid != 0 and wid in self.watchers:
            reason = errors.WATCH_DUPLICATE_ID
        if reason:
            self._put({"header": self.hub.header(cur), "watch_id": "-1", "created": True, "canceled": True,
                       "cancel_reason": reason})
            return
        if wid == 0:
            while self._auto_id in self.watchers:
                self._auto_id += 1
            wid = self._auto_id
            self._auto_id += 1
        next_rev = start if start > 0 else cur + 1
        w = Watcher(wid, key, end, next_rev, prev_kv, filters, progress, self)
        self.watchers[wid] = w
        created: dict[str, Any] = {"header": self.hub.header(cur)}
        if wid:
            created["watch_id"] = str(wid)
        created["created"] = True
        self._put(created)
        if progress and self._progress_task is None:
            self._progress_task = asyncio.get_running_loop().create_task(self._progress_loop())
        self.hub.add(w)

    def _cancel(self, wid: int) -> None:
        w = self.watchers.pop(wid, None)
        if w is None:
            return
        self.hub.remove(w)
        with self.hub.sm.lock:
            cur = self.hub.sm.store.rev
        msg: dict[str, Any] = {"header": self.hub.header(cur)}
        if wid:
            msg["watch_id"] = str(wid)
        msg["canceled"] = True
        self._put(msg)

    async def _progress_loop(self) -> None:
        while True:
            await asyncio.sleep(self.hub.progress_interval)
            with self.hub.sm.lock:
                cur = self.hub.sm.store.rev
            for w in list(self.watchers.values()):
                if w.progress_notify and w.next_rev > cur:  # only synced watchers report progress
                    msg: dict[str, Any] = {"header": self.hub.header(cur)}
                    if w.id:
                        msg["watch_id"] = str(w.id)
                    self._put(msg)

    # ---------------------------------------------------------- responses

    def send_events(self, w: Watcher, events: list[Event], rev: int) -> None:
        if w.id not in self.watchers:
            return
        out = []
        for ev in events:
            e: dict[str, Any] = {}
            if ev.type == DELETE:
                e["type"] = "DELETE"
            e["kv"] = codec.kv_json(ev.kv)
            if w.prev_kv and ev.prev_kv is not None:
                e["prev_kv"] = codec.kv_json(ev.prev_kv)
            out.append(e)
        msg: dict[str, Any] = {"header": self.hub.header(rev)}
        if w.id:
            msg["watch_id"] = str(w.id)
        msg["events"] = out
        self._put(msg)

    def send_compacted(self, w: Watcher, compact_rev: int) -> None:
        self.watchers.pop(w.id, None)
        msg: dict[str, Any] = {"header": self.hub.header(None)}
        if w.id:
            msg["watch_id"] = str(w.id)
        msg["canceled"] = True
        msg["compact_revision"] = str(compact_rev)
        self._put(msg)

    def close(self) -> None:
        for w in self.watchers.values():
            self.hub.remove(w)
        self.watchers.clear()
        if self._progress_task is not None:
            self._progress_task.cancel()
