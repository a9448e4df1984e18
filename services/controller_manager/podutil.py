"""Pod and ownerReference helpers shared by the workload controllers (upstream's controller_utils)."""
from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> float | None:
    """RFC 3339 (with or without fractional seconds) to a Unix timestamp."""
    if not s:
        return None
    s = s.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(s).timestamp()
    except ValueError:
        return None


def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any (metav1.GetControllerOf)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_ref_for(owner: Obj, block: bool = True) -> Obj:
    md = owner["metadata"]
    return {"apiVersion": owner.get("apiVersion", ""), "kind": owner.get("kind", ""), "name": md["name"],
            "uid": md["uid"], "controller": True, "blockOwnerDeletion": block}


def is_terminating(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_active(pod: Obj) -> bool:
    """Counted toward replicas: not finished and not being deleted (controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_terminating(pod)


def condition(obj: Obj, type_: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def is_available(pod: Obj, min_ready_seconds: int, now: float | None = None) -> bool:
    """Ready for at least minReadySeconds (podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    c = condition(pod, "Ready") or {}
    since = parse_time(c.get("lastTransitionTime"))
    if since is None:
        return False
    return since + min_ready_seconds <= (now if now is not None else time.time())


def restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or [])


def deletion_rank(pod: Obj) -> tuple:
    """Sort key: pods that should go first sort first (controller.ActivePods' Less).

    Unassigned before assigned; Pending before Unknown before Running; not ready before ready;
    more restarts first; newer before older.
    """
    st = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(st.get("phase", ""), 0)
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp")) or 0.0
    ready_since = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime")) or 0.0
    return (bool((pod.get("spec") or {}).get("nodeName")), phase_rank, is_ready(pod), -restarts(pod),
            -ready_since if is_ready(pod) else 0.0, -created)


def pod_from_template(template: Obj, owner: Obj, namespace: str, extra_labels: dict[str, str] | None = None) -> Obj:
    """A pod for `owner` from its template, named `<owner>-<random>` by the apiserver."""
    tmd = template.get("metadata") or {}
    labels = dict(tmd.get("labels") or {})
    labels.update(extra_labels or {})
    md: Obj = {"generateName": owner["metadata"]["name"] + "-", "namespace": namespace, "labels": labels,
               "ownerReferences": [owner_ref_for(owner)]}
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    if tmd.get("finalizers"):
        md["finalizers"] = list(tmd["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": dict(template.get("spec") or {})}
