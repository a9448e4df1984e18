"""host-gw pod networking for node agents that each run in their own network namespace
(the `docker compose` cluster), as flannel's host-gw backend does it.

All nodes sit on one L2 network (the compose bridge), so no encapsulation is needed: every
node routes each *other* node's podCIDR via that node's InternalIP, read from the Node
objects, and keeps the routes current as Nodes come, change address or go. Its *own*
podCIDR, and the Service range, are routed to `lo` as `local` routes (the AnyIP trick): the
fake runtime and the userspace proxy can then bind any pod IP or ClusterIP without an address
per pod, and packets the other nodes route here are delivered to those sockets.

Routes are programmed with iproute2's `ip`, so the agent needs CAP_NET_ADMIN in its network
namespace (compose: `cap_add: [NET_ADMIN]`). `kubeling up` never enables this: on one machine
all of 127.0.0.0/8 is already local.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from kubeling.shared.client import NODES, Client
from kubeling.shared.informer import Handlers, Informer

log = logging.getLogger("node.routes")

Obj = dict[str, Any]


def internal_ip(node: Obj) -> str | None:
    """The Node's first InternalIP (the address host-gw routes to), if it reported one."""
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP" and addr.get("address"):
            return str(addr["address"])
    return None


def pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


def peer_routes(nodes: Iterable[Obj], self_name: str) -> dict[str, str]:
    """podCIDR -> gateway for every other IPv4 node that has both a podCIDR and an InternalIP.

    A node without an address or CIDR yet gets no route (it cannot have running pods); IPv6
    CIDRs are skipped, as the compose network is IPv4 only."""
    routes: dict[str, str] = {}
    for node in nodes:
        if (node.get("metadata") or {}).get("name") == self_name:
            continue
        gw = internal_ip(node)
        if not gw or ipaddress.ip_address(gw).version != 4:
            continue
        for cidr in pod_cidrs(node):
            net = ipaddress.ip_network(cidr, strict=False)
            if net.version == 4:
                routes[str(net)] = gw
    return routes


class IpCommandError(RuntimeError):
    pass


async def ip(*args: str) -> None:
    """Run `ip <args>`; raise with ip's own message when it fails."""
    proc = await asyncio.create_subprocess_exec("ip", *args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode:
        raise IpCommandError(f"ip {' '.join(args)}: {err.decode(errors='replace').strip()}")


class HostGateway:
    """Local routes for this node's pods and Services, and a route per other node's podCIDR."""

    def __init__(self, client: Client, node_name: str, local_cidrs: list[str]) -> None:
        self.node_name = node_name
        self.local_cidrs = [str(ipaddress.ip_network(c, strict=False)) for c in local_cidrs]
        self.nodes = Informer(client, NODES)
        self.installed: dict[str, str] = {}  # the peer routes this agent put in place
        self._changed = asyncio.Event()
        self.nodes.add_handlers(Handlers(on_add=lambda _o: self._changed.set(),
                                         on_update=lambda _a, _b: self._changed.set(),
                                         on_delete=lambda _o: self._changed.set()))

    async def setup_local(self) -> None:
        """`local` routes to lo, before the kubelet binds pod IPs and the proxy binds ClusterIPs.
        Failing here fails the agent: without them no pod or Service address would work."""
        for cidr in self.local_cidrs:
            await ip("route", "replace", "local", cidr, "dev", "lo", "table", "local")
            log.info("routing locally", extra={"cidr": cidr})

    async def sync(self) -> None:
        """Make the peer routes match the Nodes: replace what is wanted, delete what is not."""
        want = peer_routes(self.nodes.list(), self.node_name)
        for cidr, gw in want.items():
            if self.installed.get(cidr) == gw:
                continue
            try:
                await ip("route", "replace", cidr, "via", gw)
            except IpCommandError as e:
                log.warning("cannot add route", extra={"cidr": cidr, "via": gw, "err": str(e)})
                continue
            log.info("route added", extra={"cidr": cidr, "via": gw})
            self.installed[cidr] = gw
        for cidr in [c for c in self.installed if c not in want]:
            try:
                await ip("route", "del", cidr)
            except IpCommandError as e:
                log.warning("cannot delete route", extra={"cidr": cidr, "err": str(e)})
            self.installed.pop(cidr, None)
            log.info("route deleted", extra={"cidr": cidr})

    async def run(self) -> None:
        self.nodes.start()
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                await self.sync()
        finally:
            await self.nodes.stop()
