"""Pod garbage collector: force-delete pods nothing else will ever finish.

- pods bound to a node that no longer exists (after a 40 s quarantine and a live check, so a
  node that is just registering is not mistaken for a deleted one);
- terminating pods on a node that is not Ready and carries the
  `node.kubernetes.io/out-of-service` taint (upstream's non-graceful node shutdown: the
  operator says the node is gone for good, so its pods' names and volumes are released);
- unscheduled pods being deleted (no kubelet will confirm them);
- finished (Succeeded/Failed) pods beyond --terminated-pod-gc-threshold, oldest first.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from kubeling.shared.client import ApiError

from .controller import Context, Controller, key_of
from .podutil import condition, is_terminating
from .resources import NODES, PODS

Obj = dict[str, Any]

GC_PERIOD = 20.0
QUARANTINE = 40.0
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


def out_of_service(node: Obj) -> bool:
    ready = (condition(node, "Ready") or {}).get("status")
    return ready != "True" and any(t.get("key") == OUT_OF_SERVICE and t.get("effect") == "NoExecute"
                                   for t in (node.get("spec") or {}).get("taints") or [])


def finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class PodGC(Controller):
    name = "podgc"
    event_source = "pod-garbage-collector"
    default_workers = 1

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.threshold = ctx.options.terminated_pod_gc_threshold
        self.missing_since: dict[str, float] = {}  # node name -> when we first saw it missing

    async def background(self) -> None:
        while True:
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except (ApiError, OSError) as e:
                self.log.info("pod gc pass failed", extra={"err": str(e)[:200]})
            await asyncio.sleep(min(GC_PERIOD, max(self.options.node_monitor_period, 1.0)))

    async def gc(self) -> None:
        pods = self.pods.list()
        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        victims: list[Obj] = []
        if self.threshold > 0:
            done = sorted((p for p in pods if finished(p)), key=lambda p: p["metadata"].get("creationTimestamp", ""))
            victims += done[:max(len(done) - self.threshold, 0)]
        now = time.monotonic()
        gone_nodes = {(p.get("spec") or {}).get("nodeName") for p in pods} - set(nodes) - {None, ""}
        for n in list(self.missing_since):
            if n not in gone_nodes:
                del self.missing_since[n]
        confirmed = set()
        for n in gone_nodes:
            first = self.missing_since.setdefault(n, now)
            if now - first >= QUARANTINE and await self._really_gone(n):
                confirmed.add(n)
        for p in pods:
            node_name = (p.get("spec") or {}).get("nodeName")
            if node_name in confirmed or is_terminating(p) and not node_name or is_terminating(p) and node_name in nodes and out_of_service(nodes[node_name]):
                victims.append(p)
        seen: set[str] = set()
        for p in victims:
            k = key_of(p)
            if k in seen:
                continue
            seen.add(k)
            await self._force_delete(p)

    async def _really_gone(self, node: str) -> bool:
        try:
            await self.client.get(NODES, node)
            return False
        except ApiError as e:
            if e.code == 404:
                return True
            raise

    async def _force_delete(self, pod: Obj) -> None:
        md = pod["metadata"]
        try:
            await self.client.delete(PODS, md["name"], md.get("namespace"), grace_period_seconds=0, uid=md.get("uid"))
        except ApiError as e:
            if e.code not in (404, 409):
                raise
            return
        self.log.info("force-deleted pod", extra={"pod": key_of(pod), "node": (pod.get("spec") or {}).get("nodeName", "")})
