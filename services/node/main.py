"""`kubeling node`: one node agent - the kubelet (register the Node, heartbeat its Lease and
status, run the pods bound to it with the fake runtime, serve their logs) on one address.

Flags follow the kubelet's where the concept exists. Pod IPs come from the Node's
spec.podCIDR; when nothing assigned one, from --pod-cidr; failing that, a /24 derived from the
node IP (127.0.1.N -> 127.244.N.0/24, any other a.b.c.N -> 10.244.N.0/24), so that on one
machine every pod address is a loopback address the host can reach.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from dataclasses import dataclass
from typing import Any

from kubeling.shared import kubeconfig, log as klog
from kubeling.shared.flags import boolean, duration
from kubeling.shared.kubeconfig import ClientConfig
from kubeling.shared.client import ENDPOINTSLICES, NODES, SERVICES, ApiError, Client, Unavailable
from kubeling.shared.events import EventRecorder
from kubeling.shared.health import health_routes
from kubeling.shared.httpserver import HTTPServer
from kubeling.shared.informer import Informer

from .kubelet import auth as kubelet_auth
from .kubelet.kubelet import Kubelet
from .kubelet.nodestatus import NodeStatusManager
from .kubelet.server import health_api, kubelet_api
from .kubelet.static import StaticPods
from .dns import ClusterDNS
from .metrics import registry as metrics_registry
from .proxy.proxier import Proxier


def parse_labels(s: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in s.split(","))):
        if "=" not in part:
            raise argparse.ArgumentTypeError(f"invalid label {part!r}: want key=value")
        k, v = part.split("=", 1)
        out[k] = v
    return out


def parse_taints(s: str) -> list[dict[str, str]]:
    """`key=value:Effect` or `key:Effect`, comma-separated (the kubelet's --register-with-taints)."""
    out = []
    for part in filter(None, (p.strip() for p in s.split(","))):
        if ":" not in part:
            raise argparse.ArgumentTypeError(f"invalid taint {part!r}: want key[=value]:Effect")
        kv, effect = part.rsplit(":", 1)
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise argparse.ArgumentTypeError(f"invalid taint effect {effect!r}")
        k, _, v = kv.partition("=")
        t = {"key": k, "effect": effect}
        if v:
            t["value"] = v
        out.append(t)
    return out


def derive_pod_cidr(node_ip: str) -> str:
    ip = ipaddress.ip_address(node_ip)
    last = int(ip) & 0xFF
    return f"127.244.{last}.0/24" if ip.is_loopback else f"10.244.{last}.0/24"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeling node", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--node-name", required=True, help="the Node's name")
    p.add_argument("--kubeconfig", help="kubeconfig with the apiserver URL(s) (comma-separated server = failover list)")
    p.add_argument("--master", help="apiserver URL(s), overriding the kubeconfig's server")
    p.add_argument("--node-ip", default="127.0.0.1", help="InternalIP; the kubelet API listens here (use 127.0.0.0/8 on one machine)")
    p.add_argument("--cpu", default="4", help="CPU capacity (= allocatable)")
    p.add_argument("--memory", default="8Gi", help="memory capacity (= allocatable)")
    p.add_argument("--max-pods", type=int, default=110)
    p.add_argument("--node-labels", type=parse_labels, default={}, help="k=v,k2=v2 added to the Node at registration")
    p.add_argument("--register-with-taints", type=parse_taints, default=[], help="key=value:Effect,...")
    p.add_argument("--kubelet-port", "--port", dest="kubelet_port", type=int, default=10250,
                   help="kubelet API port (logs, exec, health, metrics); HTTPS with --tls-cert-file, else plain HTTP")
    p.add_argument("--pod-cidr", help="pod IP range when the Node has no spec.podCIDR")
    p.add_argument("--pod-manifest-path", help="directory of static pod manifests (kubeadm's /etc/kubernetes/manifests)")
    p.add_argument("--file-check-frequency", type=duration, default=2.0, help="time between reads of --pod-manifest-path, e.g. 20s")
    p.add_argument("--node-status-update-frequency", type=duration, default=10.0,
                   help="time between heartbeats: Lease renewals and status computations, e.g. 10s")
    p.add_argument("--node-status-report-frequency", type=duration, default=300.0,
                   help="the status is written when it changed, else this often (the kubelet's "
                        "nodeStatusReportFrequency), e.g. 5m")
    p.add_argument("--proxy", type=boolean, nargs="?", const=True, default=True,
                   help="run kube-proxy in this agent (Services -> rules and the userspace data path); default true")
    p.add_argument("--cluster-domain", default="cluster.local", help="DNS domain of the cluster")
    p.add_argument("--dns-port", type=int, default=53,
                   help="serve cluster DNS (UDP) on node-ip:this port; 0 disables it")
    p.add_argument("--hollow-nodes", type=int, default=0,
                   help="run N hollow nodes named <node-name>-0..N-1 in this process (for benchmarks)")
    p.add_argument("--cluster-cidr", default="127.248.0.0/14", help="with --hollow-nodes: pod /24s are cut from this")
    p.add_argument("--host-gw", type=boolean, nargs="?", const=True, default=False,
                   help="pod networking across node containers: route other nodes' podCIDRs via their "
                        "InternalIP, this node's podCIDR and --service-cluster-ip-range to lo (needs NET_ADMIN; see routes.py)")
    p.add_argument("--service-cluster-ip-range", default="", help="with --host-gw: the Service range, routed to lo")
    p.add_argument("--log-level", default="info")
    kubelet_auth.add_flags(p)
    return p


@dataclass
class NodeClients:
    """The agent's API clients, one connection pool each, as the kubelet has (kubeClient,
    eventClient, heartbeatClient): pod traffic - informers, pod status, deletions - can
    exhaust its own pool, but never the one that renews the Lease, and events, which are best
    effort, queue on a small pool of their own."""
    pods: Client
    events: Client
    heartbeat: Client

    @classmethod
    def create(cls, cfg: ClientConfig, user_agent: str, update_period: float, nodes: int = 1) -> "NodeClients":
        # upstream sets the heartbeat client's timeout to the status update period; a floor keeps
        # a short test period from failing every heartbeat on a loaded machine
        beat = min(40.0, max(update_period, 10.0))
        return cls(pods=Client(cfg, user_agent),
                   events=Client(cfg, user_agent, max_connections=min(nodes, 8) + 1, pool_timeout=60.0),
                   heartbeat=Client(cfg, user_agent, timeout=beat, max_connections=min(2 * nodes, 16)))

    async def aclose(self) -> None:
        for c in (self.pods, self.events, self.heartbeat):
            await c.aclose()


def log_unhandled(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's last resort: an exception nobody retrieved is logged with its traceback
    (instead of asyncio's bare print), so no background task dies unnoticed."""
    exc = context.get("exception")
    task = context.get("task") or context.get("future")
    logging.getLogger("node").error("unhandled exception in background task",
                                    extra={"task": getattr(task, "get_name", lambda: repr(task))(),
                                           "detail": context.get("message", "")},
                                    exc_info=exc if isinstance(exc, BaseException) else None)


def report_exit(log: logging.Logger, task: asyncio.Task[Any], what: str) -> int:
    """The exit code for a main task that ended by itself: never 0, and always with a message."""
    exc = task.exception()
    if exc is not None:
        log.critical(f"{what} failed; exiting", extra={"err": repr(exc)[:300]}, exc_info=exc)
        print(f"kubeling node: {what} failed: {exc!r}", file=sys.stderr, flush=True)
    else:
        log.critical(f"{what} stopped unexpectedly; exiting")
        print(f"kubeling node: {what} stopped unexpectedly", file=sys.stderr, flush=True)
    return 1


async def run_hollow(args: argparse.Namespace) -> int:
    from .hollow import HollowNodes
    log = logging.getLogger("node.hollow")
    asyncio.get_running_loop().set_exception_handler(log_unhandled)
    clients = NodeClients.create(kubeconfig.load(args.kubeconfig, server=args.master), "kubeling-kubelet/hollow",
                                 args.node_status_update_frequency, args.hollow_nodes)
    hollow = HollowNodes(clients, args)
    task = asyncio.create_task(hollow.run(), name="hollow-nodes")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    rc = report_exit(log, task, "hollow nodes") if task in done else 0
    log.info("shutting down", extra={"rc": rc})
    task.cancel()
    stopper.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    await clients.aclose()
    return rc


async def run(args: argparse.Namespace) -> int:
    if args.hollow_nodes:
        return await run_hollow(args)
    log = logging.getLogger("node")
    asyncio.get_running_loop().set_exception_handler(log_unhandled)
    cfg = kubeconfig.load(args.kubeconfig, server=args.master)
    clients = NodeClients.create(cfg, f"kubeling-kubelet/{args.node_name}", args.node_status_update_frequency)
    client = clients.pods
    recorder = EventRecorder(clients.events, "kubelet", host=args.node_name, reporting_instance=args.node_name)
    kubelet = Kubelet(client, args.node_name, args.node_ip, recorder)
    nsm = NodeStatusManager(clients.heartbeat, args.node_name, args.node_ip, args.kubelet_port, args.cpu, args.memory,
                            args.max_pods, args.node_labels, args.register_with_taints, args.pod_cidr,
                            update_period=args.node_status_update_frequency,
                            report_period=args.node_status_report_frequency)
    services, slices = Informer(client, SERVICES), Informer(client, ENDPOINTSLICES)
    nsm.recorder = recorder
    proxier = Proxier(services, slices, args.node_name, args.node_ip) if args.proxy else None
    dns = ClusterDNS(services, slices, args.cluster_domain) if args.dns_port else None
    dns_addr: tuple[str, int] | None = None
    if dns:
        try:
            dns_addr = (args.node_ip, await dns.start(args.node_ip, args.dns_port))
            log.info("cluster DNS listening", extra={"address": f"{args.node_ip}:{dns_addr[1]}/udp"})
        except OSError as e:
            log.warning("cannot serve cluster DNS", extra={"port": args.dns_port, "err": e.strerror or str(e)})
            dns = None
    kubelet.node_getter = lambda: nsm.node
    kubelet.runtime.dns = dns_addr
    kubelet.runtime.cluster_domain = args.cluster_domain
    routes = health_routes(lambda: nsm.registered.is_set() and kubelet.ready() and (proxier is None or proxier.ready()),
                           metrics_registry(args.node_name, kubelet, proxier))
    guard, tls = kubelet_auth.from_flags(args, client)
    api = kubelet_api(kubelet, routes, proxier)
    server = await HTTPServer(guard.wrap(api) if guard else api, args.node_ip, args.kubelet_port, tls=tls).start()
    nsm.kubelet_port = server.port
    log.info("kubelet API listening", extra={"address": f"{'https' if tls else 'http'}://{args.node_ip}:{server.port}",
                                             "authorization": args.authorization_mode, "anonymous": args.anonymous_auth})
    healthz = None
    if args.healthz_port:
        healthz = await HTTPServer(health_api(routes), args.healthz_bind_address or args.node_ip, args.healthz_port).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def start() -> None:
        node = await nsm.register()
        cidr = (node.get("spec") or {}).get("podCIDR") or args.pod_cidr or derive_pod_cidr(args.node_ip)
        if not (node.get("spec") or {}).get("podCIDR"):
            try:  # record where our pods' IPs come from, as the IPAM controller would
                node = await client.patch(NODES, args.node_name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
            except (ApiError, Unavailable) as e:
                log.warning("could not record podCIDR on the Node", extra={"err": str(e)[:200]})
        log.info("node registered", extra={"node": args.node_name, "podCIDR": cidr})
        if args.host_gw:  # before anything binds a pod IP or a ClusterIP
            from .routes import HostGateway
            hostgw = HostGateway(client, args.node_name, [cidr, *filter(None, args.service_cluster_ip_range.split(","))])
            await hostgw.setup_local()
            background.add(asyncio.create_task(hostgw.run(), name="host-gw"))
        if args.pod_manifest_path:
            kubelet.static = StaticPods(kubelet, args.pod_manifest_path,
                                        lambda: ((nsm.node or {}).get("metadata") or {}).get("uid", ""),
                                        args.file_check_frequency)
        kubelet.start(cidr)
        if kubelet.static:
            static_task = asyncio.create_task(kubelet.static.run(), name="static-pods")
            background.add(static_task)
        if proxier or dns:
            services.start()
            slices.start()
        if proxier:
            proxier.start()
        await nsm.run()

    background: set[asyncio.Task[None]] = set()
    main_task = asyncio.create_task(start())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({main_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    rc = report_exit(log, main_task, "node agent") if main_task in done else 0
    log.info("shutting down")
    for t in background:
        t.cancel()
    main_task.cancel()
    stopper.cancel()
    try:
        await main_task
    except (asyncio.CancelledError, Exception):
        pass
    if proxier:
        await proxier.stop()
    if dns:
        dns.close()
    await services.stop()
    await slices.stop()
    await kubelet.shutdown()
    await recorder.flush()
    await server.close()
    if healthz:
        await healthz.close()
    await clients.aclose()
    return rc


def main(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    kubelet_auth.check_flags(p, args)
    klog.setup(f"node/{args.node_name}", args.log_level)
    return asyncio.run(run(args), debug=False)
