"""`kubeling scheduler`: watches unscheduled pods, filters and scores nodes, posts Bindings.

Flags follow kube-scheduler's. Only the elected instance schedules (Lease kube-system/
kube-scheduler); every instance keeps its informers warm so a standby takes over at once.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import uuid

from kubeling.shared import kubeconfig, log as klog
from kubeling.shared.flags import boolean, duration
from kubeling.shared.client import Client
from kubeling.shared.health import health_routes
from kubeling.shared.httpserver import HTTPServer, Request, Response, text
from kubeling.shared.component import elector_from_flags, release, run_until_stopped, stop_on_signals

from .metrics import Metrics
from .scheduler import Scheduler


def _percentage(v: str) -> int:
    n = int(v)
    if not 0 <= n <= 100:
        raise argparse.ArgumentTypeError(f"percentageOfNodesToScore must be between 0 and 100, got {n}")
    return n


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeling scheduler", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kubeconfig", help="kubeconfig with the apiserver URL(s) (comma-separated server = failover list)")
    p.add_argument("--master", help="apiserver URL(s), overriding the kubeconfig's server")
    p.add_argument("--scheduler-name", default="default-scheduler", help="schedule pods whose spec.schedulerName is this")
    p.add_argument("--leader-elect", type=boolean, nargs="?", const=True, default=True,
                   help="elect a leader through a Lease before scheduling (default true, as upstream)")
    p.add_argument("--leader-elect-lease-duration", type=duration, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=duration, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=duration, default=2.0)
    p.add_argument("--leader-elect-resource-name", default="kube-scheduler")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--bind-address", default="127.0.0.1", help="address for /healthz /livez /readyz /metrics")
    p.add_argument("--secure-port", type=int, default=10259, help="port for the health and metrics endpoints (plain HTTP)")
    p.add_argument("--percentage-of-nodes-to-score", type=_percentage, default=0, metavar="0-100",
                   help="stop filtering once this share of the nodes is feasible and score only those "
                        "(KubeSchedulerConfiguration's percentageOfNodesToScore); 0 = adaptive, as upstream: "
                        "50%% minus 1%% per 125 nodes, at least 5%%, and never fewer than 100 nodes")
    p.add_argument("--max-binds-in-flight", type=int, default=64,
                   help="binds sent and not yet answered before the scheduling loop waits")
    p.add_argument("--log-level", default="info")
    return p


async def run(args: argparse.Namespace) -> int:
    log = logging.getLogger("scheduler")
    cfg = kubeconfig.load(args.kubeconfig, server=args.master)
    client = Client(cfg, user_agent="kubeling-scheduler")
    metrics = Metrics()
    sched = Scheduler(client, args.scheduler_name, metrics,
                      percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
                      max_binds_in_flight=max(1, args.max_binds_in_flight))
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    routes = health_routes(sched.ready, metrics.registry)

    async def handle(req: Request) -> Response:
        return routes(req) or text("404 page not found\n", 404)

    server = await HTTPServer(handle, args.bind_address, args.secure_port).start()
    log.info("serving health and metrics", extra={"address": f"{args.bind_address}:{server.port}"})
    stop = stop_on_signals()
    sched.start_informers()
    elector = elector_from_flags(client, args, identity, sched.run, metrics.leader) if args.leader_elect else None
    rc = await run_until_stopped(sched.run, stop, elector, log, "the scheduling loop")
    await sched.shutdown()
    await release(elector)
    await server.close()
    await client.aclose()
    return rc


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    klog.setup("scheduler", args.log_level)
    os.environ.setdefault("PYTHONASYNCIODEBUG", "0")
    return asyncio.run(run(args), debug=False)
