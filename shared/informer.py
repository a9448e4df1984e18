"""List+watch informers: a local cache of one resource kept current from a watch stream.

Like client-go's reflector + indexer + shared informer in one class: list, replace the cache
(telling handlers what appeared, changed and vanished while we were not watching), then watch
from the list's resourceVersion. A `410 Gone` (the version was compacted away) or a broken
stream makes it relist, with back-off; a watch that simply times out resumes from the last
resourceVersion seen, so no event is missed or repeated.

Handlers run inline on the informer's task and must not block: they typically enqueue a key
in a work queue, and the worker reads the current object from the cache.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from .client import ApiError, Client, Resource, Unavailable

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def key_of(obj: Obj) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (cache.MetaNamespaceKeyFunc)."""
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{ns}/{md.get('name', '')}" if ns else md.get("name", "")


class Handlers:
    """on_add(obj), on_update(old, new), on_delete(obj): the ResourceEventHandler trio."""

    def __init__(self, on_add: Callable[[Obj], None] | None = None,
                 on_update: Callable[[Obj, Obj], None] | None = None,
                 on_delete: Callable[[Obj], None] | None = None) -> None:
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete


class Informer:
    def __init__(self, client: Client, resource: Resource, namespace: str | None = None, *,
                 label_selector: str | None = None, field_selector: str | None = None,
                 min_watch_timeout: int = 300, backoff_max: float = 30.0) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.min_watch_timeout = min_watch_timeout
        self.backoff_max = backoff_max
        self.store: dict[str, Obj] = {}
        self.resource_version = ""
        self.handlers: list[Handlers] = []
        self.synced = asyncio.Event()
        self.relists = 0
        self._task: asyncio.Task[None] | None = None

    def add_handlers(self, h: Handlers) -> None:
        """Register handlers; objects already cached are replayed as adds (as client-go does)."""
        self.handlers.append(h)
        if h.on_add:
            for obj in list(self.store.values()):
                h.on_add(obj)

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def list(self) -> list[Obj]:
        return list(self.store.values())

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name=f"informer-{self.resource.plural}")
        return self._task

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def wait_synced(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self.synced.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    # -- the reflector loop ------------------------------------------------------------------

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._list()
                backoff = 0.2
                await self._watch_until_gone()
                self.relists += 1
            except asyncio.CancelledError:
                raise
            except (ApiError, Unavailable, OSError, ValueError, Exception) as e:  # noqa: B014 - keep running
                log.warning("informer list/watch failed; relisting", extra={"resource": self.resource.plural,
                                                                             "err": repr(e)[:200], "backoff": backoff})
                self.relists += 1
                await asyncio.sleep(backoff * (1 + random.random() * 0.2))
                backoff = min(backoff * 2, self.backoff_max)

    async def _list(self) -> None:
        out = await self.client.list(self.resource, self.namespace, label_selector=self.label_selector,
                                     field_selector=self.field_selector, limit=500)
        items = out.get("items") or []
        kind = self.resource.kind
        for it in items:  # list items carry no kind; give them one so handlers can rely on it
            it.setdefault("kind", kind)
            it.setdefault("apiVersion", self.resource.group_version)
        self.replace(items, (out.get("metadata") or {}).get("resourceVersion", ""))

    def replace(self, items: list[Obj], resource_version: str) -> None:
        """Swap the cache for a fresh list, emitting the differences (DeltaFIFO's Replace)."""
        fresh = {key_of(o): o for o in items}
        old = self.store
        self.store = fresh
        self.resource_version = resource_version
        for k, obj in old.items():
            if k not in fresh:
                self._emit("delete", obj, None)
        for k, obj in fresh.items():
            prev = old.get(k)
            if prev is None:
                self._emit("add", obj, None)
            elif _rv(prev) != _rv(obj):
                self._emit("update", prev, obj)
        self.synced.set()

    async def _watch_until_gone(self) -> None:
        """Watch and re-watch from the last resourceVersion; return when a relist is needed."""
        while True:
            timeout = random.randint(self.min_watch_timeout, 2 * self.min_watch_timeout)
            async for typ, obj in self.client.watch(self.resource, self.namespace, resource_version=self.resource_version,
                                                    label_selector=self.label_selector, field_selector=self.field_selector,
                                                    timeout_seconds=timeout):
                if typ == "ERROR":
                    code = obj.get("code")
                    log.info("watch error event; relisting", extra={"resource": self.resource.plural, "code": code})
                    return
                self.apply(typ, obj)

    def apply(self, typ: str, obj: Obj) -> None:
        """Apply one watch event to the cache and tell the handlers."""
        rv = _rv(obj)
        if rv:
            self.resource_version = rv
        if typ == "BOOKMARK":
            return
        obj.setdefault("kind", self.resource.kind)
        obj.setdefault("apiVersion", self.resource.group_version)
        k = key_of(obj)
        if typ == "ADDED" or typ == "MODIFIED":
            prev = self.store.get(k)
            self.store[k] = obj
            if prev is None:
                self._emit("add", obj, None)
            else:
                self._emit("update", prev, obj)
        elif typ == "DELETED":
            prev = self.store.pop(k, None)
            self._emit("delete", prev or obj, None)

    def _emit(self, what: str, a: Obj, b: Obj | None) -> None:
        for h in self.handlers:
            try:
                if what == "add" and h.on_add:
                    h.on_add(a)
                elif what == "update" and h.on_update:
                    h.on_update(a, b)  # type: ignore[arg-type]
                elif what == "delete" and h.on_delete:
                    h.on_delete(a)
            except Exception:  # a handler bug must not stop the cache from following the stream
                log.exception("informer handler failed", extra={"resource": self.resource.plural, "event": what})


def _rv(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("resourceVersion", "")
