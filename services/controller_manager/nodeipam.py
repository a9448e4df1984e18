"""Node IPAM: give every node a podCIDR carved from --cluster-cidr (the range allocator).

The allocator's bitmap is rebuilt from the nodes' existing podCIDRs before anything is handed
out, so a restarted (or newly elected) controller-manager never gives one range twice. A node
that already carries a podCIDR (a node agent started with --pod-cidr) keeps it; ranges outside
--cluster-cidr are left alone.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers

from .controller import Context, Controller
from .resources import NODES

Obj = dict[str, Any]


class CIDRSet:
    """The /mask subnets of one cluster range, and which are taken."""

    def __init__(self, cluster_cidr: str, mask: int) -> None:
        self.net = ipaddress.ip_network(cluster_cidr, strict=False)
        if mask < self.net.prefixlen or mask > self.net.max_prefixlen:
            raise ValueError(f"--node-cidr-mask-size {mask} does not fit in {cluster_cidr}")
        self.mask = mask
        self.size = 2 ** (mask - self.net.prefixlen)
        self.used: set[int] = set()

    def index_of(self, cidr: str) -> int | None:
        try:
            sub = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return None
        if sub.prefixlen != self.mask or not sub.subnet_of(self.net):  # type: ignore[arg-type]
            return None
        return (int(sub.network_address) - int(self.net.network_address)) >> (self.net.max_prefixlen - self.mask)

    def occupy(self, cidr: str) -> None:
        i = self.index_of(cidr)
        if i is not None:
            self.used.add(i)

    def release(self, cidr: str) -> None:
        i = self.index_of(cidr)
        if i is not None:
            self.used.discard(i)

    def allocate(self) -> str:
        for i in range(self.size):
            if i not in self.used:
                self.used.add(i)
                addr = int(self.net.network_address) + (i << (self.net.max_prefixlen - self.mask))
                return str(ipaddress.ip_network((addr, self.mask)))
        raise RuntimeError(f"no free /{self.mask} left in {self.net}")


class NodeIpamController(Controller):
    name = "nodeipam"
    event_source = "cidrAllocator"
    default_workers = 1

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.cidrs: CIDRSet | None = None
        if ctx.options.cluster_cidr and ctx.options.allocate_node_cidrs:
            self.cidrs = CIDRSet(ctx.options.cluster_cidr, ctx.options.node_cidr_mask_size)
        self.nodes.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new), self._deleted))

    def _deleted(self, node: Obj) -> None:
        if self.cidrs is not None:
            for c in _cidrs(node):
                self.cidrs.release(c)

    async def run(self) -> None:
        if self.cidrs is None:
            self.log.info("node IPAM off (no --cluster-cidr)")
            return
        for node in self.nodes.list():  # the cache is synced: mark every range already in use
            for c in _cidrs(node):
                self.cidrs.occupy(c)
        await super().run()

    async def sync(self, key: str) -> None:
        assert self.cidrs is not None
        node = self.nodes.get(key)
        if node is None:
            return
        have = _cidrs(node)
        if have:
            for c in have:
                self.cidrs.occupy(c)
            return
        cidr = self.cidrs.allocate()
        md = node["metadata"]
        try:
            await self.client.patch(NODES, md["name"], {"metadata": {"resourceVersion": md.get("resourceVersion")},
                                                        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except ApiError as e:
            self.cidrs.release(cidr)
            if e.code == 404:
                return
            raise  # 409: the node changed (perhaps it set its own range); retry from the fresh cache
        self.log.info("allocated podCIDR", extra={"node": md["name"], "podCIDR": cidr})
        self.recorder.event(node, "Normal", "CIDRAssignmentSucceeded", f"Node {md['name']} got podCIDR {cidr}")


def _cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
