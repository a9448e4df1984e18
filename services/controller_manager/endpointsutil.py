"""What the Endpoints and EndpointSlice controllers agree on: which pods back a Service, on which
ports, and whether each one is ready, serving or terminating."""
from __future__ import annotations

from typing import Any

from kubeling.shared.informer import Handlers, Informer
from kubeling.shared.selectors import match_labels

from .podutil import is_ready, is_terminating

Obj = dict[str, Any]


def selects(svc: Obj, pod: Obj) -> bool:
    sel = (svc.get("spec") or {}).get("selector")
    return bool(sel) and match_labels(sel, (pod.get("metadata") or {}).get("labels"))


def eligible(pod: Obj, include_terminating: bool) -> bool:
    """A pod with an IP that has not finished (ShouldPodBeInEndpoints)."""
    st = pod.get("status") or {}
    if not st.get("podIP") or st.get("phase") in ("Succeeded", "Failed"):
        return False
    return include_terminating or not is_terminating(pod)


def pod_ready(svc: Obj, pod: Obj) -> bool:
    return bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or is_ready(pod)


def resolve_port(svc_port: Obj, pod: Obj) -> int | None:
    """targetPort as a number, or a named container port of the pod (FindPort); None if absent."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    proto = svc_port.get("protocol") or "TCP"
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return int(p["containerPort"])
    return None


def pod_ports(svc: Obj, pod: Obj) -> tuple[tuple[str, int, str, str | None], ...]:
    """(name, port, protocol, appProtocol) for every Service port the pod can serve."""
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        port = resolve_port(sp, pod)
        if port is not None:
            out.append((sp.get("name") or "", port, sp.get("protocol") or "TCP", sp.get("appProtocol")))
    return tuple(out)


def target_ref(pod: Obj) -> Obj:
    md = pod["metadata"]
    return {"kind": "Pod", "namespace": md.get("namespace", ""), "name": md["name"], "uid": md.get("uid", "")}


def wire_service_handlers(services: Informer, pods: Informer, enqueue_key) -> None:
    """Services enqueue themselves; a pod enqueues every Service of its namespace that selects
    it before or after the change (label edits move pods between Services)."""
    from .controller import key_of

    def for_pod(*pods_: Obj) -> None:
        keys: set[str] = set()
        for svc in services.list():
            ns = svc["metadata"].get("namespace")
            if any(p["metadata"].get("namespace") == ns and selects(svc, p) for p in pods_):
                keys.add(key_of(svc))
        for k in keys:
            enqueue_key(k)

    services.add_handlers(Handlers(lambda s: enqueue_key(key_of(s)), lambda a, b: enqueue_key(key_of(b)),
                                   lambda s: enqueue_key(key_of(s))))
    pods.add_handlers(Handlers(lambda p: for_pod(p), lambda a, b: for_pod(a, b), lambda p: for_pod(p)))
