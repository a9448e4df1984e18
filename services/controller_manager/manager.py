"""Which controllers run, and running them together on shared informers.

`--controllers` takes upstream's syntax: `*` means every controller, `name` enables one,
`-name` disables one (`*,-garbagecollector`).
"""
from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging

from .controller import Context, Controller

log = logging.getLogger("controller-manager")

# name -> "module:Class", in the order they start. One module per controller.
CONTROLLERS: dict[str, str] = {
    "nodeipam": "nodeipam:NodeIpamController",
    "nodelifecycle": "nodelifecycle:NodeLifecycleController",
    "taint-eviction-controller": "taintmanager:TaintEvictionController",
    "podgc": "podgc:PodGC",
    "replicaset": "replicaset:ReplicaSetController",
    "replicationcontroller": "replicaset:ReplicationManager",
    "deployment": "deployment:DeploymentController",
    "endpoint": "endpoints:EndpointsController",
    "endpointslice": "endpointslice:EndpointSliceController",
    "endpointslicemirroring": "endpointslicemirroring:EndpointSliceMirroringController",
    "namespace": "namespace:NamespaceController",
    "serviceaccount": "serviceaccount:ServiceAccountController",
    "garbagecollector": "garbagecollector:GarbageCollector",
    "resourcequota": "resourcequota:ResourceQuotaController",
    "job": "job:JobController",
    "cronjob": "cronjob:CronJobController",
    "ttl-after-finished": "ttlafterfinished:TTLAfterFinishedController",
    "daemonset": "daemonset:DaemonSetController",
    "statefulset": "statefulset:StatefulSetController",
}


def available() -> dict[str, str]:
    """The controllers whose modules exist in this build."""
    return {name: target for name, target in CONTROLLERS.items()
            if importlib.util.find_spec(f"{__package__}.{target.split(':')[0]}") is not None}


def enabled(spec: str) -> list[str]:
    """Resolve a --controllers value to the names to run, in start order."""
    known = available()
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    on: set[str] = set()
    off: set[str] = set()
    for p in parts:
        if p == "*":
            on |= set(known)
        elif p.startswith("-"):
            off.add(p[1:])
        else:
            on.add(p)
    unknown = (on | off) - set(CONTROLLERS)
    if unknown:
        raise ValueError(f"unknown controllers: {', '.join(sorted(unknown))} (known: {', '.join(CONTROLLERS)})")
    return [n for n in known if n in on and n not in off]


class ControllerManager:
    def __init__(self, ctx: Context, names: list[str]) -> None:
        self.ctx = ctx
        self.controllers: list[Controller] = []
        known = available()
        for name in names:
            mod, cls = known[name].split(":")
            module = importlib.import_module(f"{__package__}.{mod}")
            self.controllers.append(getattr(module, cls)(ctx))
        self.synced = False

    async def flush_events(self, timeout: float = 2.0) -> None:
        """Write what the controllers' event recorders still hold (bounded), at shutdown."""
        await asyncio.gather(*(c.recorder.flush(timeout) for c in self.controllers))

    def ready(self) -> bool:
        return True

    async def run(self) -> None:
        """Start informers, wait for their caches, then run every controller until cancelled."""
        self.ctx.informers.start()
        await self.ctx.informers.wait_synced()
        self.synced = True
        log.info("caches synced; starting controllers", extra={"controllers": ",".join(c.name for c in self.controllers)})
        tasks = [asyncio.create_task(c.run(), name=f"controller-{c.name}") for c in self.controllers]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()  # a controller that died takes the process down, so a supervisor restarts it
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
