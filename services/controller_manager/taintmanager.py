"""Taint-based eviction (NoExecuteTaintManager / taint-eviction-controller).

A pod on a node with a NoExecute taint it does not tolerate is deleted at once; one that
tolerates it for `tolerationSeconds` is deleted when the shortest of those runs out, counted
from the taint's timeAdded. The apiserver's DefaultTolerationSeconds admission gives every pod
300s for not-ready and unreachable; --pod-eviction-timeout caps those default tolerations
(upstream moved this knob to kube-apiserver's --default-*-toleration-seconds, which kubeling's
apiserver does not have), so `--pod-eviction-timeout=5s` moves pods off a dead node in seconds.
"""
from __future__ import annotations

import time
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers

from .controller import Context, Controller, key_of
from .nodelifecycle import NOT_READY, UNREACHABLE
from .podutil import is_terminating, parse_time
from .resources import NODES, PODS

Obj = dict[str, Any]
DEFAULT_TOLERATION_SECONDS = 300


def tolerates(tol: Obj, taint: Obj) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    if tol.get("effect") and tol.get("effect") != taint.get("effect"):
        return False
    op = tol.get("operator") or "Equal"
    if not tol.get("key"):
        return op == "Exists"
    if tol.get("key") != taint.get("key"):
        return False
    return op == "Exists" or (tol.get("value") or "") == (taint.get("value") or "")


def eviction_delay(pod: Obj, taints: list[Obj], now: float, cap_default: float) -> float | None:
    """Seconds until the pod must go (0: now), or None when it may stay forever."""
    tols = (pod.get("spec") or {}).get("tolerations") or []
    deadline: float | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tols if tolerates(t, taint)]
        if not matching:
            return 0.0
        seconds: float | None = None
        for t in matching:
            s = t.get("tolerationSeconds")
            if s is None:
                continue
            s = float(s)
            if (t.get("key") in (NOT_READY, UNREACHABLE) and t.get("operator") == "Exists"
                    and s == DEFAULT_TOLERATION_SECONDS):
                s = min(s, cap_default)
            seconds = s if seconds is None else min(seconds, s)
        if any(t.get("tolerationSeconds") is None for t in matching):
            continue  # some toleration lets it stay forever
        added = parse_time(taint.get("timeAdded")) or now
        due = added + max(seconds or 0.0, 0.0)
        deadline = due if deadline is None else min(deadline, due)
    if deadline is None:
        return None
    return max(deadline - now, 0.0)


class TaintEvictionController(Controller):
    name = "taint-eviction-controller"
    event_source = "taint-eviction-controller"
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.pods = self.informer(PODS)
        self.nodes.add_handlers(Handlers(self._node_changed, lambda old, new: self._node_changed(new, old)))
        self.pods.add_handlers(Handlers(self._pod_changed, lambda old, new: self._pod_changed(new)))

    def _node_changed(self, node: Obj, old: Obj | None = None) -> None:
        taints = (node.get("spec") or {}).get("taints") or []
        if old is not None and taints == ((old.get("spec") or {}).get("taints") or []):
            return
        if old is None and not any(t.get("effect") == "NoExecute" for t in taints):
            return
        name = node["metadata"]["name"]
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") == name:
                self.enqueue(pod)

    def _pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") and not is_terminating(pod):
            self.enqueue(pod)

    async def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None or is_terminating(pod):
            return
        node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return
        delay = eviction_delay(pod, taints, time.time(), self.options.pod_eviction_timeout)
        if delay is None:
            return
        if delay > 0:
            self.queue.add_after(key, delay + 0.05)
            return
        md = pod["metadata"]
        try:
            await self.client.delete(PODS, md["name"], md.get("namespace"), uid=md.get("uid"))
        except ApiError as e:
            if e.code in (404, 409):
                return
            raise
        self.ctx.metrics.evictions.labels("").inc()
        self.log.info("evicted pod from tainted node", extra={"pod": key_of(pod), "node": node["metadata"]["name"]})
        self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key_of(pod)}")
