"""Recording core/v1 Events, as client-go's record.EventRecorder does for components.

Repeats of one (object, reason, message) within the recorder's life bump `count` and
`lastTimestamp` on the existing Event instead of creating another (the correlator's
deduplication), so `kubectl describe` shows "(x4 over 2m)" like a real cluster.

Events are best effort, as in client-go's broadcaster: `event()` never blocks or raises, the
one writer task survives any error (a transient one is retried a bounded number of times with
back-off, like the broadcaster's `maxTriesPerEvent`, then the event is dropped and logged), and a
writer that somehow ended is started again by the next `event()`.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from .client import EVENTS, ApiError, Client, Unavailable

log = logging.getLogger(__name__)


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    # client-go tries an event 12 times, 10 s apart; a shorter budget (about 15 s in all) keeps a
    # backlog from growing behind one event while the apiserver is away.
    MAX_TRIES = 6
    RETRY_BASE = 0.5  # seconds, doubled per try up to RETRY_MAX
    RETRY_MAX = 8.0

    def __init__(self, client: Client, component: str, host: str = "", reporting_instance: str = "",
                 max_tries: int | None = None, retry_base: float | None = None) -> None:
        self.client = client
        self.max_tries = self.MAX_TRIES if max_tries is None else max_tries
        self.retry_base = self.RETRY_BASE if retry_base is None else retry_base
        self.recorded = 0  # events written (created or counted)
        self.dropped = 0  # events given up on (queue full, retries exhausted, rejected)
        self.component = component
        self.host = host
        self.reporting_instance = reporting_instance or component
        self._seen: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}  # -> (namespace, name, count)
        self._pending: asyncio.Queue[tuple[dict[str, Any], str, str, str, str]] | None = None
        self._worker: asyncio.Task[None] | None = None

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, action: str = "") -> None:
        """Fire and forget: events are best-effort and must never slow the caller down.

        One worker writes them in order, so a repeat always finds the Event its first
        occurrence created and bumps its count instead of racing it with a second create."""
        try:
            if self._pending is None:
                self._pending = asyncio.Queue(maxsize=10000)
            if self._worker is None or self._worker.done():
                self._worker = asyncio.get_running_loop().create_task(self._drain(), name=f"events-{self.reporting_instance}")
            self._pending.put_nowait((obj, type_, reason, message, action))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event queue full; dropping event", extra={"reason": reason})
        except RuntimeError as e:  # no running loop (called from a thread or at shutdown)
            self.dropped += 1
            log.warning("cannot record event", extra={"reason": reason, "err": str(e)[:200]})

    async def _drain(self) -> None:
        """The writer: one event at a time, each retried on transient errors; nothing ends it
        but cancellation."""
        assert self._pending is not None
        while True:
            item = await self._pending.get()
            try:
                await self._record_with_retries(*item)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or an unexpected answer must not stop all later events
                self.dropped += 1
                log.exception("recording event failed; dropped", extra={"reason": item[2]})
            finally:
                self._pending.task_done()

    async def _record_with_retries(self, obj: dict[str, Any], type_: str, reason: str, message: str,
                                   action: str) -> None:
        delay = self.retry_base
        for attempt in range(1, self.max_tries + 1):
            try:
                await self._record(obj, type_, reason, message, action)
                self.recorded += 1
                return
            except ApiError as e:
                if e.code == 404 and self._forget_patched(obj, type_, reason, message):
                    continue  # the Event we were counting is gone (TTL): create a new one
                if e.code < 500 and e.code != 429:  # rejected (invalid, namespace terminating...): final
                    self.dropped += 1
                    log.warning("event rejected; dropped", extra={"reason": reason, "err": str(e)[:200]})
                    return
                err: Exception = e
            except (Unavailable, OSError) as e:
                err = e
            if attempt == self.max_tries:
                break
            log.info("could not record event; retrying", extra={"reason": reason, "try": attempt, "err": str(err)[:200]})
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.RETRY_MAX)
        self.dropped += 1
        log.warning("could not record event; dropped", extra={"reason": reason, "tries": self.max_tries,
                                                             "err": str(err)[:200]})

    def _key(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> tuple[str, str, str, str]:
        md = obj.get("metadata") or {}
        return (md.get("uid", "") or md.get("name", ""), type_, reason, message)

    def _forget_patched(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> bool:
        return self._seen.pop(self._key(obj, type_, reason, message), None) is not None

    async def _record(self, obj: dict[str, Any], type_: str, reason: str, message: str, action: str) -> None:
        md = obj.get("metadata") or {}
        ns = md.get("namespace") or "default"
        ref = {"kind": obj.get("kind", ""), "namespace": md.get("namespace", ""), "name": md.get("name", ""),
               "uid": md.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
               "resourceVersion": md.get("resourceVersion", "")}
        key = self._key(obj, type_, reason, message)
        ts = now_rfc3339()
        if key in self._seen:
            ens, ename, count = self._seen[key]
            patch = {"count": count + 1, "lastTimestamp": ts}
            await self.client.patch(EVENTS, ename, patch, ens)
            self._seen[key] = (ens, ename, count + 1)
            return
        name = f"{md.get('name', 'obj')}.{uuid.uuid4().hex[:16]}"
        ev = {"metadata": {"name": name, "namespace": ns}, "involvedObject": ref, "reason": reason,
              "message": message, "type": type_, "count": 1, "firstTimestamp": ts, "lastTimestamp": ts,
              "eventTime": None, "source": {"component": self.component, **({"host": self.host} if self.host else {})},
              "reportingComponent": self.component, "reportingInstance": self.reporting_instance,
              "action": action}
        await self.client.create(EVENTS, ev)
        self._seen[key] = (ns, name, 1)
        if len(self._seen) > 4096:  # bounded memory: forget the oldest correlations
            for k in list(self._seen)[:1024]:
                del self._seen[k]

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait (bounded) for queued events to be written; used at shutdown."""
        if self._pending is not None:
            try:
                await asyncio.wait_for(self._pending.join(), timeout)
            except asyncio.TimeoutError:
                pass
        if self._worker:
            self._worker.cancel()

