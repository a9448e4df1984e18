"""EndpointSlice mirroring: slices for Services without a selector, from the Endpoints the user wrote.

kube-proxy and cluster DNS read EndpointSlices only, so a Service pointing at something
outside the cluster (a selector-less Service plus a hand-written Endpoints object) needs its
Endpoints mirrored, as upstream's endpointslicemirroring controller does: one slice per
subset, ready addresses ready, notReadyAddresses not. Endpoints labelled
`endpointslice.kubernetes.io/skip-mirror: "true"` are left alone.
"""
from __future__ import annotations

import json
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers

from .controller import Context, Controller, split_key
from .deploymentutil import fnv32a
from .endpointslice import MANAGED_BY, SERVICE_NAME
from .podutil import owner_ref_for
from .resources import ENDPOINTS, ENDPOINTSLICES, SERVICES

Obj = dict[str, Any]

CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
SKIP = "endpointslice.kubernetes.io/skip-mirror"


def mirrored_slices(svc: Obj, ep: Obj) -> list[Obj]:
    md = svc["metadata"]
    labels = {k: v for k, v in (ep["metadata"].get("labels") or {}).items() if k not in (SERVICE_NAME, MANAGED_BY)}
    labels.update({SERVICE_NAME: md["name"], MANAGED_BY: CONTROLLER_NAME})
    out = []
    for i, subset in enumerate(ep.get("subsets") or []):
        endpoints = []
        for addrs, ready in ((subset.get("addresses") or [], True), (subset.get("notReadyAddresses") or [], False)):
            for a in addrs:
                e: Obj = {"addresses": [a["ip"]], "conditions": {"ready": ready, "serving": ready, "terminating": False}}
                for k in ("nodeName", "targetRef", "hostname"):
                    if a.get(k):
                        e[k] = a[k]
                endpoints.append(e)
        ports = [{k: v for k, v in (("name", p.get("name")), ("port", p.get("port")), ("protocol", p.get("protocol") or "TCP"),
                                    ("appProtocol", p.get("appProtocol"))) if v not in (None, "")}
                 for p in subset.get("ports") or []]
        suffix = format(fnv32a(json.dumps([i, ports], sort_keys=True).encode()), "x")[:5]
        out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{md['name'][:57]}-{suffix}", "namespace": md["namespace"], "labels": dict(labels),
                                 "ownerReferences": [owner_ref_for(svc)]},
                    "addressType": "IPv4", "endpoints": endpoints, "ports": ports})
    return out


class EndpointSliceMirroringController(Controller):
    name = "endpointslicemirroring"
    event_source = "endpoint-slice-mirroring-controller"
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.services = self.informer(SERVICES)
        self.endpoints = self.informer(ENDPOINTS)
        self.slices = self.informer(ENDPOINTSLICES)
        h = Handlers(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        self.services.add_handlers(h)
        self.endpoints.add_handlers(h)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(key)
        ep = self.endpoints.get(key)
        want: list[Obj] = []
        if (svc is not None and not (svc.get("spec") or {}).get("selector") and ep is not None
                and (ep["metadata"].get("labels") or {}).get(SKIP) != "true"):
            want = mirrored_slices(svc, ep)
        have = {s["metadata"]["name"]: s for s in self.slices.list() if s["metadata"].get("namespace") == ns
                and (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == name
                and (s["metadata"].get("labels") or {}).get(MANAGED_BY) == CONTROLLER_NAME}
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
            if (cur.get("endpoints") or []) == sl["endpoints"] and (cur.get("ports") or []) == sl["ports"] and \
                    (cur["metadata"].get("labels") or {}) == sl["metadata"]["labels"]:
                continue
            sl["metadata"]["resourceVersion"] = cur["metadata"].get("resourceVersion")
            await self.client.update(ENDPOINTSLICES, sl)
        for stale in have.values():
            try:
                await self.client.delete(ENDPOINTSLICES, stale["metadata"]["name"], ns)
            except ApiError as e:
                if e.code != 404:
                    raise


