"""Hollow nodes: many nodes in one node-agent process (as kubemark and KWOK do), for benchmarks
with hundreds of nodes on a laptop.

Each hollow node is a full kubelet - it registers its Node, renews its Lease, posts status and
runs the pods bound to it in its own fake runtime - but they share one pod informer (dispatched
by spec.nodeName, instead of one watch per node), one pod status manager, and one kubelet API
listener (logs are found by pod). Containers open no sockets, and kube-proxy and DNS are not
run. Node i gets the i-th /24 of --cluster-cidr for its pods.

They share the process's three API clients (main.NodeClients): pod traffic, events and
heartbeats each have their own connection pool, so a thousand pods starting at once can delay
events and pod statuses but never a node's Lease.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from typing import TYPE_CHECKING, Any

from kubeling.shared.client import PODS
from kubeling.shared.events import EventRecorder
from kubeling.shared.health import health_routes
from kubeling.shared.httpserver import HTTPServer, Request, Response, text
from kubeling.shared.informer import Handlers, Informer

from .kubelet.kubelet import Kubelet
from .kubelet.nodestatus import NodeStatusManager
from .kubelet.server import kubelet_api
from .kubelet.status import StatusManager

if TYPE_CHECKING:
    from .main import NodeClients

log = logging.getLogger("node.hollow")


class HollowNodes:
    STATUS_WORKERS = 16  # pod status writes in flight at once, for all the hollow nodes together

    def __init__(self, clients: "NodeClients", args: Any) -> None:
        self.clients = clients
        client = clients.pods
        self.args = args
        self.pods = Informer(client, PODS)
        self.status_manager = StatusManager(client, lambda ns, name: self.pods.get(f"{ns}/{name}"),
                                            workers=self.STATUS_WORKERS)
        self.kubelets: dict[str, Kubelet] = {}
        self.managers: dict[str, NodeStatusManager] = {}
        subnets = ipaddress.ip_network(args.cluster_cidr, strict=False).subnets(new_prefix=24)
        self.cidrs: dict[str, str] = {}
        for i in range(args.hollow_nodes):
            name = f"{args.node_name}-{i}"
            try:
                self.cidrs[name] = str(next(subnets))
            except StopIteration:
                raise SystemExit(f"--cluster-cidr {args.cluster_cidr} has no /24 left for {name}")
            k = Kubelet(client, name, args.node_ip,
                        EventRecorder(clients.events, "kubelet", host=name, reporting_instance=name),
                        informer=self.pods, status_manager=self.status_manager)
            k.runtime.serve_ports = False
            self.kubelets[name] = k
            nsm = NodeStatusManager(clients.heartbeat, name, args.node_ip, args.kubelet_port, args.cpu, args.memory, args.max_pods,
                                    {**args.node_labels, "kubeling.io/hollow": "true"}, args.register_with_taints,
                                    self.cidrs[name], update_period=args.node_status_update_frequency,
                                    report_period=args.node_status_report_frequency)
            k.node_getter = (lambda m: lambda: m.node)(nsm)
            self.managers[name] = nsm
        self.pods.add_handlers(Handlers(lambda p: self._dispatch(p, "seen"), lambda _o, p: self._dispatch(p, "seen"),
                                        lambda p: self._dispatch(p, "gone")))

    def _dispatch(self, pod: dict[str, Any], what: str) -> None:
        k = self.kubelets.get((pod.get("spec") or {}).get("nodeName") or "")
        if k is not None and k.ipam is not None:
            (k.pod_seen if what == "seen" else k.pod_gone)(pod)

    def ready(self) -> bool:
        return self.pods.synced.is_set() and all(m.registered.is_set() for m in self.managers.values())

    async def handle(self, req: Request) -> Response:
        parts = req.path.strip("/").split("/")
        if parts[0] == "containerLogs" and len(parts) == 4:
            for k in self.kubelets.values():
                if any(r.pod["metadata"]["name"] == parts[2] and r.pod["metadata"].get("namespace") == parts[1]
                       for r in k.pods.values()):
                    return await kubelet_api(k, lambda _r: None)(req)  # type: ignore[misc]
            return text(f'pod "{parts[2]}" in namespace "{parts[1]}" not found\n', 404)
        return health_routes(self.ready)(req) or text("404 page not found\n", 404)

    async def run(self) -> None:
        from .kubelet import auth as kubelet_auth
        # one listener for all the hollow nodes: the Webhook authorizer names --node-name (the prefix)
        guard, tls = kubelet_auth.from_flags(self.args, self.clients.pods)
        server = await HTTPServer(guard.wrap(self.handle) if guard else self.handle, self.args.node_ip,
                                  self.args.kubelet_port, tls=tls).start()
        for m in self.managers.values():
            m.kubelet_port = server.port
        log.info("hollow nodes starting", extra={"count": len(self.kubelets), "address": f"{self.args.node_ip}:{server.port}"})
        sem = asyncio.Semaphore(16)

        async def register(name: str) -> None:
            async with sem:
                await self.managers[name].register()
            self.kubelets[name].start(self.cidrs[name])
        try:
            await asyncio.gather(*(register(n) for n in self.managers))
            self.status_manager.start()
            self.pods.start()
            period = self.args.node_status_update_frequency

            async def beat(m: NodeStatusManager) -> None:
                await asyncio.sleep(random.random() * period)  # spread the heartbeats over the period
                await m.run()
            await asyncio.gather(*(beat(m) for m in self.managers.values()))
        finally:
            await self.pods.stop()
            await self.status_manager.stop()
            for k in self.kubelets.values():
                await k.shutdown()
                await k.recorder.flush(0.2)
            await server.close()
