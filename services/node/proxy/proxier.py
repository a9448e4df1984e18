"""The proxier: Service and EndpointSlice informers mark the state dirty; one sync loop
recomputes the rules and reconciles the data path, at most every `min_sync_period` (upstream's
--iptables-min-sync-period), so a burst of endpoint changes costs one sync and any change is
live well within a second."""
from __future__ import annotations

import asyncio
import logging

from kubeling.shared.informer import Handlers, Informer

from .datapath import DataPath
from .rules import ServicePort, compute, iptables_save

log = logging.getLogger("proxy")


class Proxier:
    def __init__(self, services: Informer, slices: Informer, node_name: str, node_ip: str,
                 min_sync_period: float = 0.1) -> None:
        self.node_name = node_name
        self.services = services
        self.slices = slices
        self.datapath = DataPath(node_ip)
        self.min_sync_period = min_sync_period
        self.ports: list[ServicePort] = []
        self.syncs = 0
        self._dirty = asyncio.Event()
        handlers = Handlers(lambda o: self._dirty.set(), lambda a, b: self._dirty.set(), lambda o: self._dirty.set())
        self.services.add_handlers(handlers)
        self.slices.add_handlers(handlers)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sync loop; the informers are started by their owner (shared with DNS)."""
        self._task = asyncio.create_task(self._loop(), name="proxier")

    def ready(self) -> bool:
        return self.services.synced.is_set() and self.slices.synced.is_set()

    async def _loop(self) -> None:
        await self.services.synced.wait()
        await self.slices.synced.wait()
        self._dirty.set()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.sync()
            except Exception:
                log.exception("proxy sync failed")
            await asyncio.sleep(self.min_sync_period)

    async def sync(self) -> None:
        self.ports = compute(self.services.list(), self.slices.list())
        await self.datapath.reconcile(self.ports)
        self.syncs += 1

    def rules(self) -> str:
        return iptables_save(self.ports)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.datapath.close()
