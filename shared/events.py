"""Recording core/v1 Events, as client-go's record.EventRecorder does for components.

Repeats of one (object, reason, message) within the recorder's life bump `count` and
`lastTimestamp` on the existing Event instead of creating another (the correlator's
deduplication), so `kubectl describe` shows "(x4 over 2m)" like a real cluster.
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
    def __init__(self, client: Client, component: str, host: str = "", reporting_instance: str = "") -> None:
        self.client = client
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
        if self._pending is None:
            self._pending = asyncio.Queue(maxsize=10000)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())
        try:
            self._pending.put_nowait((obj, type_, reason, message, action))
        except asyncio.QueueFull:
            log.warning("event queue full; dropping event", extra={"reason": reason})

    async def _drain(self) -> None:
        assert self._pending is not None
        while True:
            item = await self._pending.get()
            try:
                await self._record(*item)
            finally:
                self._pending.task_done()

    async def _record(self, obj: dict[str, Any], type_: str, reason: str, message: str, action: str) -> None:
        md = obj.get("metadata") or {}
        ns = md.get("namespace") or "default"
        ref = {"kind": obj.get("kind", ""), "namespace": md.get("namespace", ""), "name": md.get("name", ""),
               "uid": md.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
               "resourceVersion": md.get("resourceVersion", "")}
        key = (ref["uid"] or ref["name"], type_, reason, message)
        ts = now_rfc3339()
        try:
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
        except (ApiError, Unavailable, OSError) as e:
            log.warning("could not record event", extra={"reason": reason, "err": str(e)[:200]})

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait (bounded) for queued events to be written; used at shutdown."""
        if self._pending is not None:
            try:
                await asyncio.wait_for(self._pending.join(), timeout)
            except asyncio.TimeoutError:
                pass
        if self._worker:
            self._worker.cancel()

