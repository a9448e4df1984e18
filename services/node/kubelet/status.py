"""Pod status as the kubelet computes it (kubelet_pods.go: getPhase, generateAPIPodStatus, and
the status helpers): container statuses from the runtime, the pod phase, and conditions; and
the status manager (pkg/kubelet/status) that gets each status to the apiserver."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubeling.shared.client import PODS, ApiError, Client, Unavailable
from kubeling.shared.workqueue import ItemExponentialRateLimiter, ShutDown, WorkQueue

from .images import normalized
from .runtime import EXITED, RUNNING, Container, rfc3339
from .static import MIRROR

Obj = dict[str, Any]
log = logging.getLogger("kubelet.status")


def terminated_state(c: Container) -> Obj:
    t: Obj = {"exitCode": c.exit_code, "reason": c.reason or ("Completed" if c.exit_code == 0 else "Error"),
              "startedAt": rfc3339(c.started_at or c.created_at), "finishedAt": rfc3339(c.finished_at),
              "containerID": f"containerd://{c.id}"}
    if c.message:
        t["message"] = c.message
    return {"terminated": t}


def container_status(spec: Obj, latest: Container | None, previous: Container | None,
                     waiting: tuple[str, str] | None, image_id: str = "") -> Obj:
    """One ContainerStatus. `waiting` is the reason/message when the container is not running
    (ContainerCreating, ErrImagePull, CrashLoopBackOff, ...)."""
    st: Obj = {"name": spec["name"], "image": spec.get("image", ""), "imageID": image_id, "ready": False,
               "restartCount": latest.attempt if latest else 0, "started": False, "lastState": {}, "state": {}}
    if latest:
        st["containerID"] = f"containerd://{latest.id}"
        # as containerd reports it: repository@digest
        st["imageID"] = f"{normalized(latest.image).rsplit(':', 1)[0]}@{latest.image_ref}"
    if latest and latest.state == RUNNING:
        st["state"] = {"running": {"startedAt": rfc3339(latest.started_at)}}
        st["ready"] = True
        st["started"] = True
        if previous and previous.state == EXITED:
            st["lastState"] = terminated_state(previous)
    elif waiting:
        reason, message = waiting
        st["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        if latest and latest.state == EXITED:
            st["lastState"] = terminated_state(latest)
    elif latest and latest.state == EXITED:
        st["state"] = terminated_state(latest)
        if previous and previous.state == EXITED:
            st["lastState"] = terminated_state(previous)
    else:
        st["state"] = {"waiting": {"reason": "ContainerCreating"}}
    return st


def sidecars(pod: Obj) -> set[str]:
    return {c["name"] for c in (pod.get("spec") or {}).get("initContainers") or [] if c.get("restartPolicy") == "Always"}


def init_done(pod: Obj, s: Obj) -> bool:
    """A regular init container succeeded, or a sidecar is running."""
    state = s.get("state") or {}
    if s.get("name") in sidecars(pod):
        return "running" in state
    return (state.get("terminated") or {}).get("exitCode") == 0


def get_phase(pod: Obj, init_statuses: list[Obj], statuses: list[Obj]) -> str:
    """kubelet's getPhase; sidecars (restartPolicy Always init containers) count as initialized
    while running and never hold a pod back from completing."""
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    pending_init = False
    side = sidecars(pod)
    initialized = any(("running" in (s.get("state") or {})) or ("terminated" in (s.get("state") or {}))
                      or bool(s.get("lastState")) for s in statuses)
    for s in init_statuses:
        state = s.get("state") or {}
        if s.get("name") in side:
            if "running" not in state and not initialized:
                pending_init = True
            continue
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        if term or (state.get("waiting") and (s.get("lastState") or {}).get("terminated")):
            if policy == "Never":
                return "Failed"
        pending_init = True
    if pending_init:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for s in statuses:
        state = s.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "waiting" in state:
            if (s.get("lastState") or {}).get("terminated"):
                stopped += 1
            else:
                waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _cond(type_: str, ok: bool, reason: str = "", message: str = "", prev: list[Obj] | None = None, now: str = "") -> Obj:
    status = "True" if ok else "False"
    ltt = now
    for c in prev or []:
        if c.get("type") == type_ and c.get("status") == status:
            ltt = c.get("lastTransitionTime") or now
    c: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": ltt}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def conditions(pod: Obj, sandbox_ready: bool, init_statuses: list[Obj], statuses: list[Obj], phase: str,
               now: str) -> list[Obj]:
    prev = (pod.get("status") or {}).get("conditions") or []
    app_started = any("running" in (s.get("state") or {}) or (s.get("lastState") or {}) or
                      "terminated" in (s.get("state") or {}) for s in statuses)
    all_init = app_started or all(init_done(pod, s) for s in init_statuses)
    incomplete = [s["name"] for s in init_statuses if not init_done(pod, s)]
    unready = [s["name"] for s in statuses if not s.get("ready")]
    out = [_cond("PodReadyToStartContainers", sandbox_ready, prev=prev, now=now)]
    if all_init or phase == "Succeeded":
        out.append(_cond("Initialized", True, prev=prev, now=now))
    else:
        out.append(_cond("Initialized", False, "ContainersNotInitialized",
                         f"containers with incomplete status: [{' '.join(incomplete)}]", prev, now))
    if phase == "Succeeded":
        ready_reason, msg = "PodCompleted", ""
        ready = False
    elif unready:
        ready_reason, msg = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
        ready = False
    else:
        ready_reason, msg, ready = "", "", True
    out.append(_cond("Ready", ready, ready_reason, msg, prev, now))
    out.append(_cond("ContainersReady", ready, ready_reason, msg, prev, now))
    sched = next((c for c in prev if c.get("type") == "PodScheduled"), None)
    out.append(sched or _cond("PodScheduled", True, prev=prev, now=now))
    return out


def qos_class(pod: Obj) -> str:
    cs = (pod.get("spec") or {}).get("containers") or []
    any_set = False
    guaranteed = True
    for c in cs:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


# -- the status manager ----------------------------------------------------------------------


def status_digest(status: Obj | None) -> tuple[Any, ...]:
    """What of a pod status must match the apiserver's copy (upstream's needsReconcile compares
    normalized statuses): phase, addresses, condition states and each container's state. Time
    stamps are left out so that a copy the apiserver normalized is not sent again and again."""
    st = status or {}

    def containers(key: str) -> tuple[Any, ...]:
        out = []
        for c in st.get(key) or []:
            state = c.get("state") or {}
            kind = next(iter(state), "")
            detail = state.get(kind) or {}
            out.append((c.get("name"), bool(c.get("ready")), bool(c.get("started")), c.get("restartCount", 0),
                        kind, detail.get("reason"), detail.get("exitCode"), c.get("containerID")))
        return tuple(sorted(out, key=repr))

    conds = tuple(sorted((c.get("type"), c.get("status"), c.get("reason")) for c in st.get("conditions") or []
                         if c.get("type") != "PodScheduled"))  # the scheduler's condition, not ours
    return (st.get("phase"), st.get("reason"), st.get("podIP"), st.get("hostIP"), conds,
            containers("containerStatuses"), containers("initContainerStatuses"))


@dataclass
class _Desired:
    namespace: str
    name: str
    status: Obj
    version: int  # bumped on every change, so a send knows whether it sent the latest


class StatusManager:
    """Gets every pod status the kubelet computes to the apiserver, and keeps it there.

    As upstream's status manager: `set` only records the status and never blocks the pod
    worker; a bounded set of writers (`workers`) sends it, so pod work can never take every
    connection from heartbeats or flood the apiserver. A failed write is never dropped: the pod
    is retried with per-pod exponential back-off (`backoff_base` up to `backoff_max`). Every
    `resync` seconds (upstream: 10 s) each status is compared with the apiserver's copy (the
    pod informer's cache, `api_pod(namespace, name)`) and sent again when they differ. A 409
    re-reads the pod; 404, or a pod of the same name with another UID, ends the pod's updates.
    """

    def __init__(self, client: Client, api_pod: Callable[[str, str], Obj | None] | None = None, *,
                 workers: int = 4, resync: float = 10.0, backoff_base: float = 0.2, backoff_max: float = 10.0) -> None:
        self.client = client
        self.api_pod = api_pod or (lambda _ns, _name: None)
        self.workers = workers
        self.resync = resync
        self.queue = WorkQueue(ItemExponentialRateLimiter(base=backoff_base, max_delay=backoff_max))
        self._desired: dict[str, _Desired] = {}  # pod UID -> the status it should have
        self._acked: dict[str, tuple[int, int]] = {}  # pod UID -> (version the apiserver has, its resourceVersion)
        self.sent = 0  # status writes the apiserver accepted
        self.failures = 0  # writes that failed (and were queued again)
        self.resent = 0  # statuses the periodic reconcile found stale
        self._tasks: list[asyncio.Task[None]] = []

    # -- the kubelet's side ---------------------------------------------------------------------

    def set(self, pod: Obj, status: Obj) -> None:
        """Record `status` as the pod's; it is sent (again) until the apiserver has it."""
        md = pod["metadata"]
        uid = md.get("uid", "")
        cur = self._desired.get(uid)
        if cur is not None and cur.status == status:
            return
        version = cur.version + 1 if cur else 1
        self._desired[uid] = _Desired(md.get("namespace") or "default", md["name"], status, version)
        self.queue.add(uid)

    def forget(self, uid: str) -> None:
        """The pod is gone from this node: stop updating it."""
        self._desired.pop(uid, None)
        self._acked.pop(uid, None)
        self.queue.forget(uid)

    def resend(self, uid: str) -> None:
        """Send the pod's status again even if the apiserver had it (a re-created mirror pod)."""
        self._acked.pop(uid, None)
        if uid in self._desired:
            self.queue.add(uid)

    def pending(self) -> int:
        """Pods whose latest status the apiserver has not acknowledged yet."""
        return sum(1 for uid, d in self._desired.items() if self._acked.get(uid, (0, 0))[0] != d.version)

    def has_latest(self, uid: str) -> bool:
        d = self._desired.get(uid)
        return d is not None and self._acked.get(uid, (0, 0))[0] == d.version

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._worker(), name=f"pod-status-{i}") for i in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._resync_loop(), name="pod-status-resync"))

    async def stop(self) -> None:
        self.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _worker(self) -> None:
        while True:
            try:
                uid = await self.queue.get()
            except ShutDown:
                return
            try:
                if await self.sync(uid):
                    self.queue.forget(uid)
                else:
                    self.failures += 1
                    self.queue.add_rate_limited(uid)
            except asyncio.CancelledError:
                raise
            except Exception:  # never lose a status to a bug or a surprise: log and retry later
                self.failures += 1
                log.exception("pod status sync crashed; will retry", extra={"uid": uid})
                self.queue.add_rate_limited(uid)
            finally:
                self.queue.done(uid)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            try:
                self.reconcile()
            except Exception:
                log.exception("pod status reconcile failed")

    def reconcile(self) -> int:
        """Queue every pod whose apiserver copy differs from what this kubelet last computed
        (a write the informer has not yet shown is not counted as stale); returns how many."""
        stale = 0
        for uid, d in list(self._desired.items()):
            api = self.api_pod(d.namespace, d.name)
            if api is not None and not _same_pod(api, uid):
                continue  # another pod of that name now: ours is gone, the kubelet will forget it
            acked_version, acked_rv = self._acked.get(uid, (0, 0))
            if acked_version != d.version:
                stale += 1
                self.queue.add(uid)  # not acknowledged: make sure it is queued (it normally is)
                continue
            if api is None or _rv(api) < acked_rv:
                continue  # the cache has not caught up with our own write yet
            if status_digest(api.get("status")) != status_digest(d.status):
                stale += 1
                self.resent += 1
                self._acked.pop(uid, None)
                self.queue.add(uid)
        return stale

    async def sync(self, uid: str) -> bool:
        """Send the pod's latest status once; True when done (sent, or nothing left to send)."""
        d = self._desired.get(uid)
        if d is None or self._acked.get(uid, (0, 0))[0] == d.version:
            return True
        api = self.api_pod(d.namespace, d.name)
        if api is not None and not _same_pod(api, uid):
            self.forget(uid)  # replaced by a pod of the same name: never write ours over it
            return True
        version = d.version
        try:
            out = await self.client.patch(PODS, d.name, {"status": d.status}, d.namespace, subresource="status")
        except ApiError as e:
            if e.code == 404:
                self.forget(uid)  # deleted: nothing to report any more
                return True
            if e.code == 409:
                return await self._reread(uid, d)
            log.warning("pod status update failed; will retry", extra={"pod": f"{d.namespace}/{d.name}", "err": str(e)[:200]})
            return False
        except (Unavailable, OSError) as e:
            log.warning("pod status update failed; will retry", extra={"pod": f"{d.namespace}/{d.name}", "err": str(e)[:200]})
            return False
        self.sent += 1
        if uid in self._desired:
            self._acked[uid] = (version, _rv(out or {}))
            if self._desired[uid].version != version:
                self.queue.add(uid)  # it changed while we were sending: send the newer one too
        return True

    async def _reread(self, uid: str, d: _Desired) -> bool:
        """A conflict: read the pod again; if it is still ours, the next try sends the status
        against the current object, otherwise stop."""
        try:
            cur = await self.client.get(PODS, d.name, d.namespace)
        except ApiError as e:
            if e.code == 404:
                self.forget(uid)
                return True
            return False
        except (Unavailable, OSError):
            return False
        if not _same_pod(cur, uid):
            self.forget(uid)
            return True
        return False


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _same_pod(api: Obj, uid: str) -> bool:
    """The apiserver's pod is the one the kubelet runs as `uid`: the same UID, or the mirror
    pod of the static pod `uid` (a mirror gets its own UID and names its static pod)."""
    md = api.get("metadata") or {}
    return md.get("uid") in (None, "", uid) or (md.get("annotations") or {}).get(MIRROR) == uid
