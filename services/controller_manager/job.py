"""Job controller: run pods to completion (completions, parallelism, backoffLimit,
activeDeadlineSeconds, suspend, NonIndexed and Indexed completion modes).

Counts come from the Job's pods: Succeeded ones complete work, Failed ones (and, with
restartPolicy OnFailure, container restarts) count against backoffLimit, and a replacement for
a failed pod waits upstream's back-off (10s doubling, at most 6m). Recorded counts never go
down, so a finished pod deleted by hand does not undo progress. When the Job succeeds or fails
its remaining pods are deleted and Complete (CompletionsReached) or Failed
(BackoffLimitExceeded / DeadlineExceeded) is set, as `kubectl wait --for=condition=complete` expects.
"""
from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers
from kubeling.shared.selectors import match_label_selector

from .controller import Context, Controller, key_of, split_key
from .expectations import Expectations
from .podutil import (
    condition,
    controller_ref,
    deletion_rank,
    is_ready,
    is_terminating,
    now_rfc3339,
    parse_time,
    pod_from_template,
    restarts,
)
from .resources import JOBS, PODS

Obj = dict[str, Any]

BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"


def finished(job: Obj) -> str | None:
    for t in ("Complete", "Failed"):
        c = condition(job, t)
        if c and c.get("status") == "True":
            return t
    return None


def parse_indexes(s: str) -> set[int]:
    out: set[int] = set()
    for part in (s or "").split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def format_indexes(ix: set[int]) -> str:
    """`0-2,4` as status.completedIndexes shows it."""
    parts, run = [], []
    for i in sorted(ix):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def pod_index(pod: Obj) -> int | None:
    v = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_ANNOTATION)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


class JobController(Controller):
    name = "job"
    event_source = "job-controller"
    default_workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.jobs = self.informer(JOBS)
        self.pods = self.informer(PODS)
        self.jobs.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new),
                                        lambda j: self.expectations.forget(key_of(j))))
        self.pods.add_handlers(Handlers(lambda p: self._pod_event(p, created=True), lambda old, new: self._pod_event(new),
                                        lambda p: self._pod_event(p, deleted=True)))

    def _pod_event(self, pod: Obj, created: bool = False, deleted: bool = False) -> None:
        ref = controller_ref(pod)
        if not ref or ref.get("kind") != "Job":
            return
        key = f"{pod['metadata'].get('namespace')}/{ref.get('name')}"
        job = self.jobs.get(key)
        if job is None or job["metadata"].get("uid") != ref.get("uid"):
            return
        if created:
            self.expectations.creation_observed(key)
        if deleted or is_terminating(pod):
            self.expectations.deletion_observed(key, key_of(pod))
        self.queue.add(key)

    async def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            return
        job = copy.deepcopy(job)
        ns, _ = split_key(key)
        uid = job["metadata"]["uid"]
        spec = job.get("spec") or {}
        sel = spec.get("selector")
        pods = [p for p in self.pods.list() if p["metadata"].get("namespace") == ns
                and (controller_ref(p) or {}).get("uid") == uid and sel and match_label_selector(sel, p["metadata"].get("labels"))]
        status = copy.deepcopy(job.get("status") or {})
        active = [p for p in pods if not is_terminating(p) and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        succeeded_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
        failed_pods = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
        on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)

        done_ix = parse_indexes(status.get("completedIndexes", "")) if indexed else set()
        if indexed:
            done_ix |= {i for i in (pod_index(p) for p in succeeded_pods) if i is not None and i < (completions or 0)}
            succeeded = len(done_ix)
        else:
            succeeded = max(int(status.get("succeeded") or 0), len(succeeded_pods))
        failed = max(int(status.get("failed") or 0), len(failed_pods))
        failures_for_backoff = failed + (sum(restarts(p) for p in active) if on_failure else 0)

        if finished(job):
            await self._delete_pods(job, key, active)
            return
        if not status.get("startTime") and not spec.get("suspend"):
            status["startTime"] = now_rfc3339()

        verdict: tuple[str, str, str] | None = None
        if failures_for_backoff > int(spec.get("backoffLimit", 6)):
            verdict = ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif spec.get("activeDeadlineSeconds") is not None and status.get("startTime") and not spec.get("suspend"):
            started = parse_time(status["startTime"]) or time.time()
            left = started + int(spec["activeDeadlineSeconds"]) - time.time()
            if left <= 0:
                verdict = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
            else:
                self.queue.add_after(key, left + 0.1)
        reached = (succeeded >= int(completions)) if completions is not None else (succeeded > 0 and not active)
        if verdict is None and reached:
            verdict = ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")

        if verdict is not None:
            await self._delete_pods(job, key, active)
            active = []
            ts = now_rfc3339()
            conds = [c for c in status.get("conditions") or [] if c.get("type") not in ("Complete", "Failed")]
            pre = "SuccessCriteriaMet" if verdict[0] == "Complete" else "FailureTarget"
            conds.append({"type": pre, "status": "True", "reason": verdict[1], "message": verdict[2],
                          "lastProbeTime": ts, "lastTransitionTime": ts})
            conds.append({"type": verdict[0], "status": "True", "reason": verdict[1], "message": verdict[2],
                          "lastProbeTime": ts, "lastTransitionTime": ts})
            status["conditions"] = conds
            if verdict[0] == "Complete":
                status["completionTime"] = ts
            self.recorder.event(job, "Normal" if verdict[0] == "Complete" else "Warning",
                                "Completed" if verdict[0] == "Complete" else verdict[1],
                                "Job completed" if verdict[0] == "Complete" else verdict[2])
        elif spec.get("suspend"):
            await self._delete_pods(job, key, active)
            active = []
        elif self.expectations.satisfied(key):
            want = parallelism if completions is None and succeeded == 0 else (
                0 if completions is None else min(parallelism, int(completions) - succeeded))
            delay = self._backoff_left(failed_pods, failed)
            diff = want - len(active)
            if diff > 0 and delay > 0:
                self.queue.add_after(key, delay)
            elif diff > 0:
                indexes: list[int | None] = [None] * diff
                if indexed:
                    busy = {pod_index(p) for p in active}
                    free = [i for i in range(int(completions or 0)) if i not in done_ix and i not in busy]
                    indexes = list(free[:diff])
                self.expectations.expect_creations(key, len(indexes))
                results = await asyncio.gather(*(self._create(job, key, ns, i) for i in indexes), return_exceptions=True)
                errs = [r for r in results if isinstance(r, Exception)]
                if errs:
                    raise errs[0]
            elif diff < 0:
                await self._delete_pods(job, key, sorted(active, key=deletion_rank)[:-diff])
                active = sorted(active, key=deletion_rank)[-diff:]

        status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                       "ready": sum(1 for p in active if is_ready(p)), "terminating": sum(1 for p in pods if is_terminating(p))})
        if indexed:
            status["completedIndexes"] = format_indexes(done_ix)
        for k in ("active", "succeeded", "failed", "terminating"):
            if not status.get(k):
                status.pop(k, None)
        old = job.get("status") or {}
        if status != old:
            md = job["metadata"]
            patch = {**{k: None for k in old if k not in status}, **status}  # merge patch: null removes a field
            try:
                await self.client.patch(JOBS, md["name"], {"status": patch}, md["namespace"], subresource="status")
            except ApiError as e:
                if e.code != 404:
                    raise

    @staticmethod
    def _backoff_left(failed_pods: list[Obj], failed: int) -> float:
        if not failed or not failed_pods:
            return 0.0
        last = 0.0
        for p in failed_pods:
            for cs in (p.get("status") or {}).get("containerStatuses") or []:
                t = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
                last = max(last, t or 0.0)
        if not last:
            return 0.0
        delay = min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_MAX)
        return max(last + delay - time.time(), 0.0)

    async def _create(self, job: Obj, key: str, ns: str, index: int | None) -> None:
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        extra = None
        if index is not None:
            template.setdefault("metadata", {}).setdefault("annotations", {})[INDEX_ANNOTATION] = str(index)
            extra = {INDEX_LABEL: str(index)}
            template.setdefault("spec", {}).setdefault("hostname", f"{job['metadata']['name']}-{index}")
        pod = pod_from_template(template, job, ns, extra)
        if index is not None:
            pod["metadata"]["generateName"] = f"{job['metadata']['name']}-{index}-"
        try:
            created = await self.client.create(PODS, pod, ns)
        except Exception as e:
            self.expectations.creation_observed(key)
            if isinstance(e, ApiError):
                self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {e.status.get('message') or e}")
            raise
        self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pods(self, job: Obj, key: str, pods: list[Obj]) -> None:
        if not pods:
            return
        self.expectations.expect_deletions(key, [key_of(p) for p in pods])
        for p in pods:
            md = p["metadata"]
            try:
                await self.client.delete(PODS, md["name"], md.get("namespace"), uid=md.get("uid"))
                self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {md['name']}")
            except ApiError as e:
                self.expectations.deletion_observed(key, key_of(p))
                if e.code not in (404, 409):
                    raise
