"""Cluster DNS served by the node agent on its node IP, from the Service and EndpointSlice
informers (what CoreDNS's kubernetes plugin answers):

- `<svc>.<ns>.svc.<domain>` A: the ClusterIP; for a headless Service, the ready endpoints' IPs;
  an ExternalName Service answers a CNAME;
- `_<port>._<proto>.<svc>.<ns>.svc.<domain>` SRV for named ports;
- `<a-b-c-d>.<ns>.pod.<domain>` A: the dashed address itself.

Names in the cluster domain that do not exist get NXDOMAIN; other names are REFUSED (there is
no upstream resolver to forward to). Search paths (short names) are the client's job, as with
real resolvers: the fake containers' `nslookup`/`curl` apply `<ns>.svc.<domain>` etc.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from dnslib import CNAME, QTYPE, RCODE, RR, SRV, A, DNSRecord

from kubeling.shared.informer import Informer

log = logging.getLogger("dns")
TTL = 5


class ClusterDNS(asyncio.DatagramProtocol):
    def __init__(self, services: Informer, slices: Informer, domain: str = "cluster.local") -> None:
        self.services = services
        self.slices = slices
        self.domain = domain.strip(".").lower()
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        return self.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self.transport:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            req = DNSRecord.parse(data)
        except Exception:  # not DNS: drop, as a resolver would
            return
        self.queries += 1
        reply = self.answer(req)
        if self.transport:
            self.transport.sendto(reply.pack(), addr)

    # -- lookups -------------------------------------------------------------------------------

    def answer(self, req: DNSRecord) -> DNSRecord:
        reply = req.reply()
        q = req.q
        name = str(q.qname).rstrip(".").lower()
        if not (name == self.domain or name.endswith("." + self.domain)):
            reply.header.rcode = RCODE.REFUSED
            return reply
        rel = name[: -len(self.domain) - 1] if name != self.domain else ""
        parts = rel.split(".") if rel else []
        qtype = QTYPE[q.qtype]
        found = False
        if len(parts) >= 3 and parts[-1] == "svc":
            found = self._service(reply, name, parts[:-1], qtype)
        elif len(parts) == 3 and parts[-1] == "pod":
            ip = parts[0].replace("-", ".")
            if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip):
                found = True
                if qtype in ("A", "ANY"):
                    reply.add_answer(RR(name, QTYPE.A, rdata=A(ip), ttl=TTL))
        elif len(parts) <= 2 and (not parts or parts[-1] in ("svc", "pod") or self._namespace_exists(parts[-1])):
            found = True  # an existing intermediate name: NOERROR, no data
        if not found:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply

    def _namespace_exists(self, ns: str) -> bool:
        return any((s.get("metadata") or {}).get("namespace") == ns for s in self.services.list())

    def _service(self, reply: DNSRecord, name: str, parts: list[str], qtype: str) -> bool:
        srv_port = None
        if len(parts) == 4 and parts[0].startswith("_") and parts[1].startswith("_"):
            srv_port, proto = parts[0][1:], parts[1][1:].upper()
            parts = parts[2:]
        if len(parts) != 2:
            return False
        svc_name, ns = parts
        svc = self.services.get(f"{ns}/{svc_name}")
        if svc is None:
            return False
        spec = svc.get("spec") or {}
        fqdn = f"{svc_name}.{ns}.svc.{self.domain}"
        if srv_port is not None:
            port = next((p for p in spec.get("ports") or [] if p.get("name") == srv_port
                         and (p.get("protocol") or "TCP") == proto), None)
            if port is None:
                return False
            if qtype in ("SRV", "ANY"):
                reply.add_answer(RR(name, QTYPE.SRV, rdata=SRV(0, 100, int(port["port"]), fqdn), ttl=TTL))
            return True
        if spec.get("type") == "ExternalName":
            if qtype in ("CNAME", "A", "ANY"):
                reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(spec.get("externalName", "")), ttl=TTL))
            return True
        if qtype not in ("A", "ANY"):
            return True
        ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]
        if not ips:  # headless: the ready endpoints
            ips = sorted({addr for sl in self._slices_of(ns, svc_name) for ep in sl.get("endpoints") or []
                          if (ep.get("conditions") or {}).get("ready", True) is not False
                          for addr in (ep.get("addresses") or [])[:1]})
        for ip in ips:
            if ":" not in ip:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(ip), ttl=TTL))
        return True

    def _slices_of(self, ns: str, svc: str) -> list[dict[str, Any]]:
        return [sl for sl in self.slices.list() if (sl.get("metadata") or {}).get("namespace") == ns
                and ((sl.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name") == svc]


class _Query(asyncio.DatagramProtocol):
    def __init__(self, packet: bytes) -> None:
        self.packet = packet
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.sendto(self.packet)  # type: ignore[attr-defined]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.reply.done():
            self.reply.set_result(data)


async def query(server: tuple[str, int], name: str, qtype: str = "A", timeout: float = 2.0) -> DNSRecord:
    """One UDP query (what a container's resolver sends)."""
    loop = asyncio.get_running_loop()
    proto = _Query(DNSRecord.question(name, qtype).pack())
    transport, _ = await loop.create_datagram_endpoint(lambda: proto, remote_addr=server)
    try:
        return DNSRecord.parse(await asyncio.wait_for(proto.reply, timeout))
    finally:
        transport.close()


def search_list(namespace: str, domain: str) -> list[str]:
    """The search path the kubelet writes into a ClusterFirst pod's resolv.conf."""
    return [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]


async def resolve(server: tuple[str, int], name: str, namespace: str, domain: str) -> tuple[str, list[str]]:
    """Resolve like glibc with ndots:5: try the search path first for short names; returns
    (the name that answered, its A addresses), or (name, []) when nothing did."""
    name = name.rstrip(".")
    candidates = [name] if name.count(".") >= 5 else [f"{name}.{s}" for s in search_list(namespace, domain)] + [name]
    for cand in candidates:
        try:
            rec = await query(server, cand)
        except (asyncio.TimeoutError, OSError):
            continue
        ips = [str(rr.rdata) for rr in rec.rr if rr.rtype == QTYPE.A]
        if ips:
            return cand, ips
    return name, []
