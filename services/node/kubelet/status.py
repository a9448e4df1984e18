"""Pod status as the kubelet computes it (kubelet_pods.go: getPhase, generateAPIPodStatus, and
the status helpers): container statuses from the runtime, the pod phase, and conditions."""
from __future__ import annotations

from typing import Any

from .images import normalized
from .runtime import EXITED, RUNNING, Container, rfc3339

Obj = dict[str, Any]


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
