"""Pure Deployment arithmetic (upstream's deployment/util): hashes, surge and unavailability,
revisions, conditions. Kept apart from the controller so it can be unit-tested without a cluster."""
from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
# Deployment annotations that are not copied to its ReplicaSets (annotationsToSkip upstream).
SKIP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                    DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"}

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # rand.SafeEncodeString: no vowels, no look-alikes


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """pod-template-hash: FNV-32a of the template (plus collisionCount), safe-encoded."""
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    data = json.dumps(t, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(fnv32a(data)))


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """Templates equal apart from the pod-template-hash label (EqualIgnoreHash)."""
    a, b = copy.deepcopy(a or {}), copy.deepcopy(b or {})
    for t in (a, b):
        md = t.setdefault("metadata", {})
        labels = md.get("labels") or {}
        labels.pop(HASH_LABEL, None)
        md["labels"] = labels
        if not md.get("annotations"):
            md.pop("annotations", None)
        for k in [k for k, v in md.items() if v in (None, {}, "") and k != "labels"]:
            md.pop(k)
    return a == b


def scaled_value(v: Any, total: int, round_up: bool) -> int:
    """An IntOrString (`3` or `"25%"`) against `total`."""
    if v is None:
        v = "25%"
    if isinstance(v, str) and v.endswith("%"):
        pct = float(v[:-1]) * total / 100.0
        return int(math.ceil(pct) if round_up else math.floor(pct))
    return int(v)


def replicas_of(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def max_surge(d: Obj) -> int:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return scaled_value(ru.get("maxSurge", "25%"), replicas_of(d), True)


def max_unavailable(d: Obj) -> int:
    """maxUnavailable resolved; 1 when both it and maxSurge would be 0 (ResolveFenceposts)."""
    strategy = (d.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate" or replicas_of(d) == 0:
        return 0
    ru = strategy.get("rollingUpdate") or {}
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), replicas_of(d), False)
    if unavailable == 0 and max_surge(d) == 0:
        unavailable = 1
    return min(unavailable, replicas_of(d))


def revision(obj: Obj) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def new_rs_new_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> int:
    """How many replicas the new ReplicaSet may have now (NewRSNewReplicas)."""
    new_count = replicas_of(new_rs) if new_rs else 0
    strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate"
    if strategy == "Recreate":
        return replicas_of(d)
    current = sum(replicas_of(rs) for rs in all_rss)
    max_total = replicas_of(d) + max_surge(d)
    if current >= max_total:
        return new_count
    scale_up = min(max_total - current, replicas_of(d) - new_count)
    return new_count + max(scale_up, 0)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def get_condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def set_condition(status: Obj, type_: str, cstatus: str, reason: str, message: str) -> None:
    """SetDeploymentCondition: lastTransitionTime only moves when the status flips; same
    status and reason keep the old condition untouched except lastUpdateTime."""
    now = now_rfc3339()
    conds = [c for c in status.get("conditions") or []]
    cur = get_condition(status, type_)
    if cur is not None and cur.get("status") == cstatus and cur.get("reason") == reason:
        if cur.get("message") != message:
            cur["message"] = message
            cur["lastUpdateTime"] = now
        return
    new = {"type": type_, "status": cstatus, "lastUpdateTime": now, "lastTransitionTime": now,
           "reason": reason, "message": message}
    if cur is not None and cur.get("status") == cstatus:
        new["lastTransitionTime"] = cur.get("lastTransitionTime", now)
    status["conditions"] = [c for c in conds if c.get("type") != type_] + [new]


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas_of(d)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= (d.get("metadata") or {}).get("generation", 0))


def deployment_progressing(d: Obj, new_status: Obj) -> bool:
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new_status.get("replicas", 0) - new_status.get("updatedReplicas", 0)
    return (new_status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or new_status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new_status.get("availableReplicas", 0) > old.get("availableReplicas", 0))
