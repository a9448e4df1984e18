"""CronJob controller: create a Job at each scheduled time (schedule, timeZone, suspend,
startingDeadlineSeconds, concurrencyPolicy Allow/Forbid/Replace, history limits).

Each sync looks for the latest scheduled time since `status.lastScheduleTime` (or the
CronJob's creation) that has passed, creates its Job, named `<cronjob>-<minutes since epoch>`
as upstream names them (so a retried sync finds the Job it already made instead of making a
second), then requeues itself for the next scheduled time. Finished Jobs beyond
successfulJobsHistoryLimit (3) / failedJobsHistoryLimit (1) are deleted with their pods.

Schedules are parsed as upstream parses them (kubeling.shared.cron, robfig/cron's ParseStandard).
As upstream's syncCronJob (pkg/controller/cronjob/cronjob_controllerv2.go), a schedule that cannot
be parsed, an unknown time zone, or one that never fires (`0 0 30 2 *`) is reported once as a
Warning event and the CronJob is not requeued until it changes: no work is repeated on a schedule
that cannot succeed.
"""
from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.cron import Schedule, ScheduleError, load_location, parse_standard
from kubeling.shared.informer import Handlers

from .controller import Context, Controller, split_key
from .job import finished
from .podutil import controller_ref, owner_ref_for, parse_time
from .resources import CRONJOBS, JOBS

Obj = dict[str, Any]


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# pkg/controller/cronjob/utils.go: more missed start times than this are not caught up on.
MANY_MISSED = 100
# ... and the requeue lands this long after the next scheduled time (nextScheduleDelta).
NEXT_SCHEDULE_DELTA = 0.1


def most_recent(schedule: Schedule, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
    """(the latest scheduled time in (earliest, now], about how many were missed), as upstream's
    mostRecentScheduleTime: two activations give the period, so an old `earliest` costs a few
    steps, not one per missed minute. ScheduleError for a schedule that never fires."""
    t1 = schedule.next(earliest)
    if t1 is not None and now < t1:
        return None, 0
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and t2 is not None and now < t2:
        return t1, 1
    period = int(round((t2 - t1).total_seconds())) if t1 is not None and t2 is not None else 0
    if period < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // period + 1
    # Step back one period more than the estimate and let the schedule find the exact times
    # (schedules such as `30 6-16/4 * * 1-5` are not evenly spaced).
    t: datetime | None = t1 + timedelta(seconds=(missed - 2) * period)
    latest = None
    while (t := schedule.next(t)) is not None and t <= now:
        latest = t
    return latest, missed


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
            tz = load_location(spec["timeZone"]) if spec.get("timeZone") else UTC
        except ScheduleError as e:
            self.recorder.event(cj, "Warning", "UnknownTimeZone", f"invalid timeZone: {spec.get('timeZone')!r}: {e}")
            await self._write_status(cj, status)
            return
        try:
            schedule = parse_standard(spec.get("schedule") or "")
        except ScheduleError as e:
            self.recorder.event(cj, "Warning", "UnparseableSchedule", f"unparseable schedule: {spec.get('schedule')!r} : {e}")
            await self._write_status(cj, status)
            return
        now = datetime.now(tz)
        if not spec.get("suspend"):
            earliest_ts = parse_time(status.get("lastScheduleTime")) or parse_time(cj["metadata"].get("creationTimestamp")) or now.timestamp()
            earliest = datetime.fromtimestamp(earliest_ts, tz)
            sds = spec.get("startingDeadlineSeconds")
            if sds is not None:
                earliest = max(earliest, now - timedelta(seconds=int(sds)))
            try:
                t, missed = most_recent(schedule, earliest, now)
            except ScheduleError as e:
                self.recorder.event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {e}")
                await self._write_status(cj, status)
                return
            if missed > MANY_MISSED:
                self.recorder.event(cj, "Warning", "TooManyMissedTimes",
                                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
            if t is not None:
                await self._run(cj, t, status)
        await self._write_status(cj, status)
        nxt = schedule.next(now)
        if nxt is not None:
            self.queue.add_after(key, max((nxt - now).total_seconds(), 0) + NEXT_SCHEDULE_DELTA)

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



