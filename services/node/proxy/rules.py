"""From Services and EndpointSlices to the rules kube-proxy's iptables mode would program.

`compute` is pure: the same inputs give the same rules, chain names included (upstream's
hashes), so a student can line them up with `iptables-save` on a real node. The data path
(`datapath.py`) follows the same decisions: the ServicePorts, their ready endpoints, ClientIP
affinity, and the NodePorts.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


def _hash(s: str) -> str:
    return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:16]


def svc_chain(port_name: str, protocol: str) -> str:
    return "KUBE-SVC-" + _hash(port_name + protocol)


def ext_chain(port_name: str, protocol: str) -> str:
    return "KUBE-EXT-" + _hash(port_name + protocol)


def sep_chain(port_name: str, protocol: str, endpoint: str) -> str:
    return "KUBE-SEP-" + _hash(port_name + protocol + endpoint)


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    node: str = ""

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass
class ServicePort:
    """One port of one Service (upstream's ServicePortName + its ServiceInfo)."""
    namespace: str
    name: str
    port_name: str
    protocol: str
    cluster_ips: list[str]
    port: int
    node_port: int = 0
    affinity_timeout: int = 0  # > 0 when sessionAffinity is ClientIP
    endpoints: list[Endpoint] = field(default_factory=list)

    @property
    def id(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base


def _endpoints_for(slices: list[Obj], port_name: str, protocol: str) -> list[Endpoint]:
    """Ready endpoints (or, if none is ready, serving-and-terminating ones, as upstream)."""
    ready: list[Endpoint] = []
    serving: list[Endpoint] = []
    for sl in slices:
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        port = next((p.get("port") for p in sl.get("ports") or []
                     if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol), None)
        if port is None:
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            for ip in (ep.get("addresses") or [])[:1]:
                e = Endpoint(ip, int(port), ep.get("nodeName") or "")
                if cond.get("ready", True) is not False:
                    ready.append(e)
                elif cond.get("serving") and cond.get("terminating"):
                    serving.append(e)
    eps = ready or serving
    return sorted(set(eps), key=lambda e: (e.ip, e.port))


def compute(services: list[Obj], slices: list[Obj]) -> list[ServicePort]:
    by_svc: dict[tuple[str, str], list[Obj]] = {}
    for sl in slices:
        md = sl.get("metadata") or {}
        svc = (md.get("labels") or {}).get("kubernetes.io/service-name")
        if svc:
            by_svc.setdefault((md.get("namespace", ""), svc), []).append(sl)
    out: list[ServicePort] = []
    for svc in services:
        md, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]
        if spec.get("type") == "ExternalName" or not ips:
            continue  # headless and ExternalName Services get no proxy rules (DNS handles them)
        timeout = 0
        if spec.get("sessionAffinity") == "ClientIP":
            timeout = int(((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds") or 10800)
        mine = by_svc.get((md.get("namespace", ""), md.get("name", "")), [])
        for p in spec.get("ports") or []:
            proto = p.get("protocol") or "TCP"
            out.append(ServicePort(md.get("namespace", ""), md.get("name", ""), p.get("name") or "", proto, ips,
                                   int(p["port"]), int(p.get("nodePort") or 0) if spec.get("type") in ("NodePort", "LoadBalancer") else 0,
                                   timeout, _endpoints_for(mine, p.get("name") or "", proto)))
    out.sort(key=lambda sp: (sp.id, sp.protocol))
    return out


def iptables_save(ports: list[ServicePort]) -> str:
    """The nat and filter tables as `iptables-save` prints what kube-proxy programs."""
    chains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    nat: list[str] = []
    filt: list[str] = []
    for sp in ports:
        proto = sp.protocol.lower()
        svc = svc_chain(sp.id, proto)
        if not sp.endpoints:
            for ip in sp.cluster_ips:
                filt.append(f'-A KUBE-SERVICES -m comment --comment "{sp.id} has no endpoints" -m {proto} -p {proto} '
                            f"-d {ip}/32 --dport {sp.port} -j REJECT --reject-with icmp-port-unreachable")
            if sp.node_port:
                filt.append(f'-A KUBE-EXTERNAL-SERVICES -m comment --comment "{sp.id} has no endpoints" -m addrtype '
                            f"--dst-type LOCAL -m {proto} -p {proto} --dport {sp.node_port} -j REJECT --reject-with icmp-port-unreachable")
            continue
        chains.append(svc)
        for ip in sp.cluster_ips:
            nat.append(f'-A KUBE-SERVICES -m comment --comment "{sp.id} cluster IP" -m {proto} -p {proto} '
                       f"-d {ip}/32 --dport {sp.port} -j {svc}")
        if sp.node_port:
            ext = ext_chain(sp.id, proto)
            chains.append(ext)
            nat.append(f'-A KUBE-NODEPORTS -m comment --comment "{sp.id}" -m {proto} -p {proto} --dport {sp.node_port} -j {ext}')
            nat.append(f'-A {ext} -m comment --comment "masquerade traffic for {sp.id} external destinations" -j KUBE-MARK-MASQ')
            nat.append(f"-A {ext} -j {svc}")
        seps = [(ep, sep_chain(sp.id, proto, str(ep))) for ep in sp.endpoints]
        if sp.affinity_timeout:
            for ep, sep in seps:
                nat.append(f'-A {svc} -m comment --comment "{sp.id} -> {ep}" -m recent --name {sep} --rcheck '
                           f"--seconds {sp.affinity_timeout} --reap -j {sep}")
        n = len(seps)
        for i, (ep, sep) in enumerate(seps):
            if i < n - 1:
                nat.append(f'-A {svc} -m comment --comment "{sp.id} -> {ep}" -m statistic --mode random '
                           f"--probability {1.0 / (n - i):0.10f} -j {sep}")
            else:
                nat.append(f'-A {svc} -m comment --comment "{sp.id} -> {ep}" -j {sep}')
        for ep, sep in seps:
            chains.append(sep)
            nat.append(f'-A {sep} -m comment --comment "{sp.id}" -s {ep.ip}/32 -j KUBE-MARK-MASQ')
            recent = f" -m recent --set --name {sep}" if sp.affinity_timeout else ""
            nat.append(f'-A {sep} -m comment --comment "{sp.id}"{recent} -m {proto} -p {proto} -j DNAT --to-destination {ep}')
    nat.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in '
               'this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    nat += ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
            '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully']
    lines = ["*filter", ":KUBE-SERVICES - [0:0]", ":KUBE-EXTERNAL-SERVICES - [0:0]", *filt, "COMMIT", "*nat"]
    lines += [f":{c} - [0:0]" for c in chains]
    lines += nat + ["COMMIT"]
    return "\n".join(lines) + "\n"
