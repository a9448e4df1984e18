"""Endpoints controller: core/v1 Endpoints for every Service with a selector.

Ready pods go to `addresses`, the rest to `notReadyAddresses`; pods are grouped into subsets
by the ports they serve (a named targetPort may resolve differently per pod), as upstream's
repacking does. Services without a selector are left alone: their Endpoints are the user's.
"""
from __future__ import annotations

from typing import Any

from kubeling.shared.client import ApiError

from .controller import Context, Controller, split_key
from .endpointsutil import (
    eligible,
    pod_ports,
    pod_ready,
    selects,
    target_ref,
    wire_service_handlers,
)
from .resources import ENDPOINTS, PODS, SERVICES

Obj = dict[str, Any]


def port_entry(name: str, port: int, protocol: str, app_protocol: str | None) -> Obj:
    out: Obj = {"name": name} if name else {}
    out.update({"port": port, "protocol": protocol})
    if app_protocol:
        out["appProtocol"] = app_protocol
    return out


def build_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    groups: dict[tuple, dict[str, list[Obj]]] = {}
    for pod in pods:
        if not selects(svc, pod) or not eligible(pod, False):
            continue
        ports = pod_ports(svc, pod)
        if not ports and (svc.get("spec") or {}).get("ports"):
            continue
        addr: Obj = {"ip": pod["status"]["podIP"], "targetRef": target_ref(pod)}
        if (pod.get("spec") or {}).get("nodeName"):
            addr["nodeName"] = pod["spec"]["nodeName"]
        g = groups.setdefault(ports, {"addresses": [], "notReadyAddresses": []})
        g["addresses" if pod_ready(svc, pod) else "notReadyAddresses"].append(addr)
    subsets = []
    for ports, g in sorted(groups.items()):
        s: Obj = {}
        for k in ("addresses", "notReadyAddresses"):
            if g[k]:
                s[k] = sorted(g[k], key=lambda a: a["ip"])
        if ports:
            s["ports"] = [port_entry(*p) for p in ports]
        subsets.append(s)
    return subsets


class EndpointsController(Controller):
    name = "endpoint"
    event_source = "endpoint-controller"
    default_workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.endpoints = self.informer(ENDPOINTS)
        wire_service_handlers(self.services, self.pods, self.queue.add)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(key)
        if svc is None:
            if self.endpoints.get(key) is not None:
                try:
                    await self.client.delete(ENDPOINTS, name, ns)
                except ApiError as e:
                    if e.code != 404:
                        raise
            return
        if not (svc.get("spec") or {}).get("selector"):
            return
        subsets = build_subsets(svc, [p for p in self.pods.list() if p["metadata"].get("namespace") == ns])
        labels = dict(svc["metadata"].get("labels") or {})
        if svc["spec"].get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        cur = self.endpoints.get(key)
        if cur is not None and (cur.get("subsets") or []) == subsets and (cur["metadata"].get("labels") or {}) == labels:
            return
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": labels},
                     "subsets": subsets}
        if cur is None:
            try:
                await self.client.create(ENDPOINTS, body, ns)
                return
            except ApiError as e:
                if e.code != 409:
                    raise
                cur = await self.client.get(ENDPOINTS, name, ns)
        body["metadata"]["resourceVersion"] = cur["metadata"].get("resourceVersion")
        body["metadata"]["annotations"] = cur["metadata"].get("annotations") or {}
        await self.client.update(ENDPOINTS, body)
