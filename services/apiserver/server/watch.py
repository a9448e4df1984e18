"""Watch responses: newline-delimited JSON events (or one-row Tables), flushed per event,
with periodic BOOKMARKs, `timeoutSeconds`, and an ERROR Status event when the watch fails."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from prometheus_client import Gauge
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..api import errors
from ..registry.objects import meta
from ..registry.store import Store, WatchItem
from ..table.convert import table
from . import codec
from .listoptions import ListOptions
from .routes import ResourcePath

log = logging.getLogger("apiserver.watch")
WATCHERS = Gauge("apiserver_longrunning_requests", "Open watch streams by resource", ["resource"])
BOOKMARK_INTERVAL = 60.0
MAX_TIMEOUT = 100 * 365 * 86400


def watch_response(req: Request, store: Store, rp: ResourcePath, opts: ListOptions) -> Response:
    """`opts` is already decoded and validated (listoptions.py): timeoutSeconds an int64 (a
    negative one ends the stream at once, as upstream's timer does; 0 or none, no limit here where
    upstream picks 30-60 min), resourceVersion a revision."""
    q = req.query_params
    labels, fields = opts.labels, opts.fields
    as_table = codec.wants_table(req.headers.get("accept"))
    # capped: an event loop's timers overflow long before int64 seconds (a century is plenty)
    timeout = float(min(opts.timeout_seconds, MAX_TIMEOUT)) if opts.timeout_seconds else None
    bookmarks = opts.bookmarks
    initial_end = bool(opts.send_initial_events)
    if initial_end and not bookmarks:
        raise errors.StatusError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and allowWatchBookmarks is set to true",
                                 {"kind": "ListOptions", "group": "meta.k8s.io",
                                  "causes": [{"reason": "FieldValueForbidden", "message": "Forbidden: sendInitialEvents requires allowWatchBookmarks=true", "field": "sendInitialEvents"}]})
    include = q.get("includeObject") or "Metadata"
    rv = opts.resource_version or None

    def encode(item: WatchItem) -> bytes:
        obj = item.object
        if as_table and item.type in ("ADDED", "MODIFIED", "DELETED"):
            obj = table(store.strategy, [obj], include, {"resourceVersion": meta(obj).get("resourceVersion", "")})
        return (json.dumps({"type": item.type, "object": obj}, separators=(",", ":")) + "\n").encode()

    async def stream() -> AsyncIterator[bytes]:
        queue: asyncio.Queue[WatchItem | None] = asyncio.Queue()
        last_rv = rv or "0"
        gauge = WATCHERS.labels(store.strategy.group_resource)
        gauge.inc()

        async def pump() -> None:
            try:
                async for item in store.watch(rp.namespace, labels, fields, None if initial_end else rv, initial_end):
                    await queue.put(item)
            except errors.StatusError as e:
                await queue.put(WatchItem("ERROR", e.status()))
            except Exception as e:  # the stream must end with a Status, never a torn connection
                log.exception("watch failed")
                await queue.put(WatchItem("ERROR", errors.internal(str(e)).status()))
            await queue.put(None)

        task = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        try:
            while True:
                wait = BOOKMARK_INTERVAL if bookmarks else None
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0:
                        return
                    wait = min(wait, left) if wait else left
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except asyncio.TimeoutError:
                    if bookmarks and (deadline is None or loop.time() < deadline):
                        cur = max(int(last_rv or 0), store.cache.rev)
                        yield encode(WatchItem("BOOKMARK", {"kind": store.strategy.kind, "apiVersion": store.strategy.api_version,
                                                            "metadata": {"resourceVersion": str(cur)}}))
                    continue
                if item is None:
                    return
                if item.type != "ERROR":
                    last_rv = meta(item.object).get("resourceVersion", last_rv)
                yield encode(item)
                if item.type == "ERROR":
                    return
        finally:
            task.cancel()
            gauge.dec()

    ct = "application/json;as=Table;v=v1;g=meta.k8s.io" if as_table else "application/json"
    return StreamingResponse(stream(), media_type=ct, headers={"Cache-Control": "no-cache, private"})
