"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does.

Candidates race to write themselves as `holderIdentity`. The holder renews `renewTime` every
retry period; a candidate takes over only after it has seen the same lease record unchanged for
`lease_duration` by its own clock (never comparing clocks across machines). Writes are
compare-and-swap on resourceVersion, so two candidates can never both succeed. A leader that
cannot renew within `renew_deadline` steps down, before anybody else may take over.
Upstream timings: lease 15 s, renew deadline 10 s, retry period 2 s.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from .client import LEASES, ApiError, Client, Unavailable

log = logging.getLogger(__name__)


def micro_time(t: float | None = None) -> str:
    """A metav1.MicroTime string."""
    dt = datetime.fromtimestamp(time.time() if t is None else t, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: Client, name: str, identity: str, namespace: str = "kube-system", *,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 on_started_leading: Callable[[], Awaitable[None]] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 on_new_leader: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.clock = clock
        self.observed: dict[str, Any] | None = None  # last lease spec we saw
        self.observed_time = 0.0
        self.observed_rv = ""
        self.reported_leader = ""
        self.leading = asyncio.Event()

    def is_leader(self) -> bool:
        return bool(self.observed and self.observed.get("holderIdentity") == self.identity)

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when we hold the lease afterwards."""
        now = time.time()
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": micro_time(now), "renewTime": micro_time(now), "leaseTransitions": 0}
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError as e:
            if e.code != 404:
                raise
            obj = {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
            try:
                created = await self.client.create(LEASES, obj)
            except ApiError as e2:
                if e2.code == 409:
                    return False
                raise
            self._observe(created)
            return True
        old = lease.get("spec") or {}
        rv = (lease.get("metadata") or {}).get("resourceVersion", "")
        if self.observed is None or _record(old) != _record(self.observed):
            self._observe(lease)
        holder = old.get("holderIdentity") or ""
        if holder and holder != self.identity and self.observed_time + self.lease_duration > self.clock():
            return False  # somebody else holds an unexpired lease
        if holder == self.identity:
            spec["acquireTime"] = old.get("acquireTime") or spec["acquireTime"]
            spec["leaseTransitions"] = old.get("leaseTransitions") or 0
        else:
            spec["leaseTransitions"] = (old.get("leaseTransitions") or 0) + (1 if holder else 0)
        new = copy.deepcopy(lease)
        new["spec"] = {**old, **spec}
        new["metadata"]["resourceVersion"] = rv
        try:
            updated = await self.client.update(LEASES, new)
        except ApiError as e:
            if e.code == 409:
                return False
            raise
        self._observe(updated)
        return True

    def _observe(self, lease: dict[str, Any]) -> None:
        self.observed = copy.deepcopy(lease.get("spec") or {})
        self.observed_time = self.clock()
        self.observed_rv = (lease.get("metadata") or {}).get("resourceVersion", "")
        holder = self.observed.get("holderIdentity") or ""
        if holder != self.reported_leader:
            self.reported_leader = holder
            log.info("new leader observed", extra={"lease": f"{self.namespace}/{self.name}", "leader": holder})
            if self.on_new_leader:
                self.on_new_leader(holder)

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (ApiError, Unavailable, OSError) as e:
            log.warning("lease attempt failed", extra={"lease": self.name, "err": str(e)[:200]})
            return False

    async def run(self) -> None:
        """Acquire, lead (running on_started_leading), renew; return once leadership is lost."""
        while not await self._attempt():
            await asyncio.sleep(self.retry_period)
        log.info("acquired lease", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity})
        self.leading.set()
        work = asyncio.create_task(self.on_started_leading()) if self.on_started_leading else None
        try:
            last_renew = self.clock()
            while True:
                await asyncio.sleep(self.retry_period)
                if work and work.done():
                    work.result()  # surface a crashed leader task instead of holding the lease idle
                if await self._attempt():
                    last_renew = self.clock()
                elif self.clock() - last_renew > self.renew_deadline or not self.is_leader():
                    log.warning("lost lease", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity})
                    return
        finally:
            self.leading.clear()
            if work and not work.done():
                work.cancel()
                try:
                    await work
                except (asyncio.CancelledError, Exception):
                    pass
            if self.on_stopped_leading:
                self.on_stopped_leading()

    async def release(self) -> None:
        """On clean shutdown, give the lease up so a standby takes over without waiting it out."""
        if not self.is_leader():
            return
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"].update({"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": micro_time()})
            await self.client.update(LEASES, lease)
        except (ApiError, Unavailable, OSError):
            pass


def _record(spec: dict[str, Any]) -> tuple[Any, ...]:
    return (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("acquireTime"), spec.get("leaseTransitions"))
