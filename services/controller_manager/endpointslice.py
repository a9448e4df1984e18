"""EndpointSlice controller: discovery.k8s.io/v1 EndpointSlices for every Service with a selector.

Slices are what kube-proxy (the node agent's proxier) and cluster DNS read. Endpoints carry
upstream's three conditions: ready (ready and not terminating), serving (ready, regardless
of termination) and terminating, so a proxier can fall back to terminating-but-serving pods.
Pods are grouped by the ports they serve; a group is split into slices of at most
--max-endpoints-per-slice (100). Slice names are derived from the Service and the group, so a
sync rewrites the same objects instead of churning new ones.
"""
from __future__ import annotations

import json
from typing import Any

from kubeling.shared.client import ApiError

from .controller import Context, Controller, split_key
from .deploymentutil import fnv32a
from .endpoints import port_entry
from .endpointsutil import (
    eligible,
    pod_ports,
    pod_ready,
    selects,
    target_ref,
    wire_service_handlers,
)
from .podutil import is_terminating, owner_ref_for
from .resources import ENDPOINTSLICES, PODS, SERVICES

Obj = dict[str, Any]

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
SERVICE_NAME = "kubernetes.io/service-name"
MAX_PER_SLICE = 100


def desired_slices(svc: Obj, pods: list[Obj]) -> list[Obj]:
    md = svc["metadata"]
    groups: dict[tuple, list[Obj]] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        if not selects(svc, pod) or not eligible(pod, True):
            continue
        ports = pod_ports(svc, pod)
        if not ports and (svc.get("spec") or {}).get("ports"):
            continue
        ready = pod_ready(svc, pod)
        terminating = is_terminating(pod)
        ep: Obj = {"addresses": [pod["status"]["podIP"]],
                   "conditions": {"ready": ready and not terminating, "serving": ready, "terminating": terminating},
                   "targetRef": target_ref(pod)}
        if (pod.get("spec") or {}).get("nodeName"):
            ep["nodeName"] = pod["spec"]["nodeName"]
        groups.setdefault(ports, []).append(ep)
    if not groups:
        groups[()] = []  # a Service with no endpoints still gets one (empty) slice, as upstream
    labels = {k: v for k, v in (md.get("labels") or {}).items() if k not in (SERVICE_NAME, MANAGED_BY)}
    labels.update({SERVICE_NAME: md["name"], MANAGED_BY: CONTROLLER_NAME})
    out = []
    for ports, eps in sorted(groups.items()):
        chunks = [eps[i:i + MAX_PER_SLICE] for i in range(0, len(eps), MAX_PER_SLICE)] or [[]]
        gid = fnv32a(json.dumps(ports).encode())
        for i, chunk in enumerate(chunks):
            suffix = format(fnv32a(f"{gid}/{i}".encode()), "x")[:5]
            out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": f"{md['name'][:57]}-{suffix}", "namespace": md["namespace"],
                                     "labels": dict(labels), "ownerReferences": [owner_ref_for(svc)]},
                        "addressType": "IPv4", "endpoints": chunk,
                        "ports": [port_entry(*p) for p in ports] if ports else []})
    return out


class EndpointSliceController(Controller):
    name = "endpointslice"
    event_source = "endpoint-slice-controller"
    default_workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.slices = self.informer(ENDPOINTSLICES)
        wire_service_handlers(self.services, self.pods, self.queue.add)

    def _existing(self, ns: str | None, name: str) -> list[Obj]:
        return [s for s in self.slices.list() if s["metadata"].get("namespace") == ns
                and (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == name
                and (s["metadata"].get("labels") or {}).get(MANAGED_BY) == CONTROLLER_NAME]

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(key)
        existing = self._existing(ns, name)
        want: list[Obj] = []
        if svc is not None and (svc.get("spec") or {}).get("selector"):
            if svc["spec"].get("type") == "ExternalName":
                want = []
            else:
                want = desired_slices(svc, [p for p in self.pods.list() if p["metadata"].get("namespace") == ns])
        have = {s["metadata"]["name"]: s for s in existing}
        for sl in want:
            cur = have.pop(sl["metadata"]["name"], None)
            if cur is None:
                try:
                    await self.client.create(ENDPOINTSLICES, sl, ns)
                    continue
                except ApiError as e:
                    if e.code != 409:
                        raise
                    cur = await self.client.get(ENDPOINTSLICES, sl["metadata"]["name"], ns)
            if _same(cur, sl):
                continue
            sl["metadata"]["resourceVersion"] = cur["metadata"].get("resourceVersion")
            await self.client.update(ENDPOINTSLICES, sl)
        for stale in have.values():
            try:
                await self.client.delete(ENDPOINTSLICES, stale["metadata"]["name"], ns)
            except ApiError as e:
                if e.code != 404:
                    raise


def _same(cur: Obj, want: Obj) -> bool:
    return ((cur.get("endpoints") or []) == want["endpoints"] and (cur.get("ports") or []) == want["ports"]
            and (cur["metadata"].get("labels") or {}) == want["metadata"]["labels"]
            and cur.get("addressType") == want["addressType"])
