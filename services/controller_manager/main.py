"""`kubeling controller-manager`: the controllers that make the cluster heal itself, in one process.

Flags follow kube-controller-manager's. Only the elected instance runs controllers (Lease
kube-system/kube-controller-manager); a standby waits for the lease.
"""
from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import socket
import uuid

from kubeling.shared import kubeconfig
from kubeling.shared import log as klog
from kubeling.shared.client import Client
from kubeling.shared.events import EventRecorder
from kubeling.shared.health import health_routes
from kubeling.shared.httpserver import HTTPServer, Request, Response, text
from kubeling.shared.component import elector_from_flags, release, run_until_stopped, stop_on_signals

from .controller import Context, InformerFactory, Options
from .manager import CONTROLLERS, ControllerManager, enabled
from .metrics import Metrics
from kubeling.shared.flags import boolean, duration

CONCURRENT = {  # flag suffix -> controller name
    "deployment": "deployment", "replicaset": "replicaset", "rc": "replicationcontroller",
    "endpoint": "endpoint", "service-endpoint": "endpointslice", "namespace": "namespace",
    "serviceaccount-token": "serviceaccount", "gc": "garbagecollector", "resource-quota": "resourcequota",
    "job": "job", "cron-job": "cronjob", "daemonset": "daemonset", "statefulset": "statefulset",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeling controller-manager", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kubeconfig", help="kubeconfig with the apiserver URL(s)")
    p.add_argument("--master", help="apiserver URL(s), overriding the kubeconfig's server")
    p.add_argument("--controllers", default="*",
                   help=f"controllers to run: '*' for all, 'name' to enable, '-name' to disable; known: {', '.join(CONTROLLERS)}")
    p.add_argument("--leader-elect", type=boolean, nargs="?", const=True, default=True,
                   help="elect a leader through a Lease before running controllers (default true)")
    p.add_argument("--leader-elect-lease-duration", type=duration, metavar="DURATION", default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=duration, metavar="DURATION", default=10.0)
    p.add_argument("--leader-elect-retry-period", type=duration, metavar="DURATION", default=2.0)
    p.add_argument("--leader-elect-resource-name", default="kube-controller-manager")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--cluster-cidr", default="", help="pod address range; each node gets a slice of it (node IPAM)")
    p.add_argument("--allocate-node-cidrs", type=boolean, nargs="?", const=True, default=True,
                   help="assign spec.podCIDR to nodes from --cluster-cidr (needs --cluster-cidr)")
    p.add_argument("--node-cidr-mask-size", type=int, default=24, help="prefix length of each node's podCIDR")
    p.add_argument("--node-monitor-period", type=duration, metavar="DURATION", default=5.0, help="how often node health is checked")
    p.add_argument("--node-monitor-grace-period", type=duration, metavar="DURATION", default=40.0,
                   help="a node silent this long is marked Ready=Unknown and tainted unreachable")
    p.add_argument("--node-startup-grace-period", type=duration, metavar="DURATION", default=60.0,
                   help="grace for a node that never reported Ready")
    p.add_argument("--pod-eviction-timeout", type=duration, metavar="DURATION", default=300.0,
                   help="cap on the default not-ready/unreachable tolerations (the 300s admission adds) before "
                        "the pods of a failed node are evicted")
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=12500,
                   help="finished pods kept before the oldest are deleted (<= 0 disables)")
    for suffix, ctl in CONCURRENT.items():
        p.add_argument(f"--concurrent-{suffix}-syncs", type=int, default=None, dest=f"concurrent_{ctl}", metavar="N",
                       help=f"workers of the {ctl} controller")
    p.add_argument("--bind-address", default="127.0.0.1", help="address for /healthz /livez /readyz /metrics")
    p.add_argument("--secure-port", type=int, default=10257,
                   help="port for health and metrics (plain HTTP); if taken, a free port is used and logged")
    p.add_argument("--log-level", default="info")
    return p


async def _serve(handle, host: str, port: int, log: logging.Logger) -> HTTPServer:
    try:
        return await HTTPServer(handle, host, port).start()
    except OSError as e:
        if e.errno != errno.EADDRINUSE or port == 0:
            raise
        # Several controller-managers (kubeling up --ha, parallel test clusters) share one host.
        log.warning("health port in use; using a free port", extra={"port": port})
        return await HTTPServer(handle, host, 0).start()


async def run(args: argparse.Namespace) -> int:
    log = logging.getLogger("controller-manager")
    try:
        names = enabled(args.controllers)
    except ValueError as e:
        log.error(str(e))
        return 2
    cfg = kubeconfig.load(args.kubeconfig, server=args.master)
    client = Client(cfg, user_agent="kubeling-controller-manager")
    metrics = Metrics()
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    options = Options(cluster_cidr=args.cluster_cidr, node_cidr_mask_size=args.node_cidr_mask_size,
                      allocate_node_cidrs=args.allocate_node_cidrs, node_monitor_period=args.node_monitor_period,
                      node_monitor_grace_period=args.node_monitor_grace_period,
                      node_startup_grace_period=args.node_startup_grace_period,
                      pod_eviction_timeout=args.pod_eviction_timeout,
                      terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
                      concurrent={ctl: getattr(args, f"concurrent_{ctl}") for ctl in CONCURRENT.values()
                                  if getattr(args, f"concurrent_{ctl}") is not None})
    recorder = EventRecorder(client, "kube-controller-manager", reporting_instance=identity)
    ctx = Context(client, InformerFactory(client), recorder, options, metrics, identity)
    manager = ControllerManager(ctx, names)
    routes = health_routes(manager.ready, metrics.registry)

    async def handle(req: Request) -> Response:
        return routes(req) or text("404 page not found\n", 404)

    server = await _serve(handle, args.bind_address, args.secure_port, log)
    log.info("serving health and metrics", extra={"address": f"{args.bind_address}:{server.port}",
                                                  "controllers": ",".join(names)})
    stop = stop_on_signals()
    elector = elector_from_flags(client, args, identity, manager.run, metrics.leader) if args.leader_elect else None
    rc = await run_until_stopped(manager.run, stop, elector, log, "a controller")
    await ctx.informers.stop()
    await manager.flush_events()
    await recorder.flush()
    await release(elector)
    await server.close()
    await client.aclose()
    return rc


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    klog.setup("controller-manager", args.log_level)
    return asyncio.run(run(args))
