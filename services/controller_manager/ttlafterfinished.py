"""TTL-after-finished controller: delete finished Jobs `ttlSecondsAfterFinished` after they finish.

The Job is deleted with propagationPolicy=Background, so the garbage collector removes its
pods. Before deleting, the Job is read again from the apiserver: a TTL changed or removed
meanwhile wins over the cached copy.
"""
from __future__ import annotations

import time
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers

from .controller import Context, Controller, split_key
from .job import finished
from .podutil import condition, parse_time
from .resources import JOBS

Obj = dict[str, Any]


def finish_time(job: Obj) -> float | None:
    t = finished(job)
    if t is None:
        return None
    when = (job.get("status") or {}).get("completionTime") if t == "Complete" else None
    return parse_time(when or (condition(job, t) or {}).get("lastTransitionTime"))


def seconds_left(job: Obj, now: float) -> float | None:
    """None: not eligible (no TTL, not finished); else seconds until it may be deleted."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or (job.get("metadata") or {}).get("deletionTimestamp"):
        return None
    done = finish_time(job)
    if done is None:
        return None
    return max(done + int(ttl) - now, 0.0)


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    event_source = "ttl-after-finished-controller"
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.jobs = self.informer(JOBS)
        self.jobs.add_handlers(Handlers(self._maybe, lambda old, new: self._maybe(new)))

    def _maybe(self, job: Obj) -> None:
        if (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finished(job):
            self.enqueue(job)

    async def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            return
        left = seconds_left(job, time.time())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left + 0.05)
            return
        ns, name = split_key(key)
        try:
            fresh = await self.client.get(JOBS, name, ns)
        except ApiError as e:
            if e.code == 404:
                return
            raise
        left = seconds_left(fresh, time.time())
        if left is None or left > 0:
            if left:
                self.queue.add_after(key, left + 0.05)
            return
        try:
            await self.client.request("DELETE", JOBS.path(ns, name), body={
                "apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
                "preconditions": {"uid": fresh["metadata"].get("uid"),
                                  "resourceVersion": fresh["metadata"].get("resourceVersion")}})
        except ApiError as e:
            if e.code not in (404, 409):
                raise
            return
        self.log.info("deleted finished job after its TTL", extra={"job": key})
