"""CronJob controller: create a Job at each scheduled time (schedule, timeZone, suspend,
startingDeadlineSeconds, concurrencyPolicy Allow/Forbid/Replace, history limits).

Each sync looks for the latest scheduled time since `status.lastScheduleTime` (or the
CronJob's creation) that has passed, creates its Job, named `<cronjob>-<minutes since epoch>`
as upstream names them (so a retried sync finds the Job it already made instead of making a
second), then requeues itself for the next scheduled time. Finished Jobs beyond
successfulJobsHistoryLimit (3) / failedJobsHistoryLimit (1) are deleted with their pods.
"""
from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers

from .controller import Context, Controller, split_key
from .cron import Schedule
from .job import finished
from .podutil import controller_ref, owner_ref_for, parse_time
from .resources import CRONJOBS, JOBS

Obj = dict[str, Any]
MAX_MISSED = 100


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def most_recent(schedule: Schedule, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
    """(latest scheduled time in (earliest, now], how many were passed) (getMostRecentScheduleTime)."""
    t, last, n = earliest, None, 0
    while True:
        t = schedule.next_after(t)
        if t > now:
            return last, n
        last, n = t, n + 1
        if n > 10000:  # a very old lastScheduleTime: jump ahead rather than walk every minute
            t = now - timedelta(minutes=1)


class CronJobController(Controller):
    name = "cronjob"
    event_source = "cronjob-controller"
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.cronjobs = self.informer(CRONJOBS)
        self.jobs = self.informer(JOBS)
        self.cronjobs.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new)))
        self.jobs.add_handlers(Handlers(self._job_event, lambda old, new: self._job_event(new), self._job_event))

    def _job_event(self, job: Obj) -> None:
        ref = controller_ref(job)
        if ref and ref.get("kind") == "CronJob":
            self.queue.add(f"{job['metadata'].get('namespace')}/{ref.get('name')}")

    async def sync(self, key: str) -> None:
        cj = self.cronjobs.get(key)
        if cj is None:
            return
        cj = copy.deepcopy(cj)
        ns, _ = split_key(key)
        uid = cj["metadata"]["uid"]
        spec = cj.get("spec") or {}
        status = copy.deepcopy(cj.get("status") or {})
        jobs = [j for j in self.jobs.list() if j["metadata"].get("namespace") == ns and (controller_ref(j) or {}).get("uid") == uid]
        status["active"] = [_ref(j) for j in sorted(jobs, key=lambda j: j["metadata"]["name"]) if not finished(j)
                            and not j["metadata"].get("deletionTimestamp")]
        done_ok = [j for j in jobs if finished(j) == "Complete"]
        if done_ok:
            last_ok = max((j.get("status") or {}).get("completionTime") or "" for j in done_ok)
            if last_ok:
                status["lastSuccessfulTime"] = last_ok
        await self._cleanup(done_ok, spec.get("successfulJobsHistoryLimit", 3))
        await self._cleanup([j for j in jobs if finished(j) == "Failed"], spec.get("failedJobsHistoryLimit", 1))

        try:
            tz = ZoneInfo(spec["timeZone"]) if spec.get("timeZone") else UTC
            schedule = Schedule(spec.get("schedule", ""))
        except (ValueError, KeyError, OSError) as e:
            self.recorder.event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')}: {e}")
            await self._write_status(cj, status)
            return
        now = datetime.now(tz)
        if not spec.get("suspend"):
            earliest_ts = parse_time(status.get("lastScheduleTime")) or parse_time(cj["metadata"].get("creationTimestamp")) or now.timestamp()
            earliest = datetime.fromtimestamp(earliest_ts, tz)
            sds = spec.get("startingDeadlineSeconds")
            if sds is not None:
                earliest = max(earliest, now - timedelta(seconds=int(sds)))
            t, missed = most_recent(schedule, earliest, now)
            if missed > MAX_MISSED:
                self.recorder.event(cj, "Warning", "TooManyMissedTimes",
                                    f"too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
            if t is not None:
                await self._run(cj, t, status)
        await self._write_status(cj, status)
        nxt = schedule.next_after(now)
        self.queue.add_after(key, max((nxt - now).total_seconds(), 0) + 0.2)

    async def _run(self, cj: Obj, t: datetime, status: Obj) -> None:
        spec = cj["spec"]
        policy = spec.get("concurrencyPolicy") or "Allow"
        ns = cj["metadata"]["namespace"]
        if policy == "Forbid" and status["active"]:
            self.recorder.event(cj, "Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
            return
        if policy == "Replace":
            for ref in status["active"]:
                try:
                    await self.client.request("DELETE", JOBS.path(ns, ref["name"]),
                                              body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"})
                    self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {ref['name']}")
                except ApiError as e:
                    if e.code != 404:
                        raise
            status["active"] = []
        tmpl = spec.get("jobTemplate") or {}
        name = f"{cj['metadata']['name']}-{int(t.timestamp() // 60)}"
        md = copy.deepcopy(tmpl.get("metadata") or {})
        md.update({"name": name, "namespace": ns, "ownerReferences": [owner_ref_for(cj)]})
        md.setdefault("annotations", {})["batch.kubernetes.io/cronjob-scheduled-timestamp"] = rfc3339(t)
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": copy.deepcopy(tmpl.get("spec") or {})}
        try:
            created = await self.client.create(JOBS, job, ns)
            self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        except ApiError as e:
            if e.code != 409:
                self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {e}")
                raise
            created = await self.client.get(JOBS, name, ns)
        ours = (controller_ref(created) or {}).get("uid") == cj["metadata"]["uid"]
        if ours and not finished(created) and all(r["uid"] != created["metadata"]["uid"] for r in status["active"]):
            status["active"].append(_ref(created))
        status["lastScheduleTime"] = rfc3339(t)

    async def _cleanup(self, jobs: list[Obj], limit: int | None) -> None:
        if limit is None:
            return
        excess = len(jobs) - int(limit)
        if excess <= 0:
            return
        by_age = sorted(jobs, key=lambda j: ((j.get("status") or {}).get("startTime") or j["metadata"].get("creationTimestamp", "")))
        for j in by_age[:excess]:
            md = j["metadata"]
            try:
                await self.client.request("DELETE", JOBS.path(md["namespace"], md["name"]),
                                          body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"})
            except ApiError as e:
                if e.code != 404:
                    raise

    async def _write_status(self, cj: Obj, status: Obj) -> None:
        old = cj.get("status") or {}
        if not status.get("active"):
            status.pop("active", None)
        if status == old:
            return
        patch = {**{k: None for k in old if k not in status}, **status}
        md = cj["metadata"]
        try:
            await self.client.patch(CRONJOBS, md["name"], {"status": patch}, md["namespace"], subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise


def _ref(job: Obj) -> Obj:
    md = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": md["name"], "namespace": md.get("namespace", ""),
            "uid": md.get("uid", ""), "resourceVersion": md.get("resourceVersion", "")}



