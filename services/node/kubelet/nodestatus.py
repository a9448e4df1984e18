"""Registering the Node and keeping it alive: the Node object (capacity, allocatable,
addresses, nodeInfo, conditions), its Lease in kube-node-lease renewed every 10 s, and the
status, as the kubelet's node status manager keeps them.

The status follows upstream's two periods: every `update_period` (--node-status-update-frequency,
10 s) the kubelet reads its Node from the apiserver's cache (resourceVersion=0) and computes the
status; it writes it only when something other than the heartbeat times changed, or when
`report_period` (nodeStatusReportFrequency, 5 min) has passed since the last write. The Lease is
what says the node is alive. So a quiet node costs the store one Lease write per 10 s, and the
other components' Node informers see an event only when something changed or every 5 min.

Registration is idempotent: an existing Node (an agent restart) keeps its spec - podCIDR,
taints added by hand, cordoning - and gets fresh status.

The Lease and the status are renewed by two independent loops, and nothing but cancellation
ends either: a failed renewal is retried with back-off (upstream's lease controller: 200 ms
doubling to 7 s) instead of waiting a whole period, so a slow status write or a burst of
errors never lets the Lease lapse. The client given here should be the node's heartbeat client
(upstream's separate `heartbeatClient`), which pod traffic cannot starve.
"""
from __future__ import annotations

import asyncio
import logging
import platform
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kubeling.shared import quantity
from kubeling.shared.client import LEASES, NODES, ApiError, Client, Unavailable
from kubeling.shared.events import now_rfc3339
from kubeling.shared.leaderelection import micro_time

log = logging.getLogger("kubelet.node")
Obj = dict[str, Any]
KUBELET_VERSION = "v1.32.0"
RETRY_BASE, RETRY_MAX = 0.2, 7.0  # heartbeat retry back-off (upstream's lease controller)


class NodeStatusManager:
    def __init__(self, client: Client, name: str, ip: str, kubelet_port: int, cpu: str, memory: str,
                 max_pods: int, labels: dict[str, str], taints: list[Obj], pod_cidr: str | None,
                 lease_seconds: int = 40, update_period: float = 10.0, report_period: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.name = name
        self.ip = ip
        self.kubelet_port = kubelet_port
        self.cpu = quantity.format_milli(quantity.milli_value(cpu))
        self.memory = quantity.format_bytes(quantity.value(memory))
        self.max_pods = max_pods
        self.labels = labels
        self.taints = taints
        self.pod_cidr = pod_cidr
        self.lease_seconds = lease_seconds
        self.update_period = update_period
        self.report_period = report_period
        self.clock = clock
        self._reported_at: float | None = None  # when the status was last written
        self.boot_id = str(uuid.uuid4())
        self.machine_id = uuid.uuid5(uuid.NAMESPACE_DNS, name).hex
        self.node: Obj | None = None
        self.registered = asyncio.Event()
        self.recorder: Any = None  # an EventRecorder, for the node's own events
        self.heartbeats = 0  # Lease renewals that succeeded
        self.status_posts = 0  # node status writes that succeeded
        self.heartbeat_failures = 0
        self._lease: Obj | None = None  # the last Lease we wrote: renewals PUT it without a GET

    def resources(self) -> Obj:
        return {"cpu": self.cpu, "memory": self.memory, "pods": str(self.max_pods), "ephemeral-storage": "100Gi"}

    def conditions(self, prev: list[Obj] | None = None) -> list[Obj]:
        now = now_rfc3339()
        spec = [("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]
        old = {c.get("type"): c for c in prev or []}
        out = []
        for t, st, reason, msg in spec:
            ltt = old[t]["lastTransitionTime"] if t in old and old[t].get("status") == st else now
            out.append({"type": t, "status": st, "lastHeartbeatTime": now, "lastTransitionTime": ltt,
                        "reason": reason, "message": msg})
        return out

    def status(self, prev: Obj | None = None) -> Obj:
        return {
            "capacity": self.resources(), "allocatable": self.resources(),
            "conditions": self.conditions((prev or {}).get("conditions")),
            "addresses": [{"type": "InternalIP", "address": self.ip}, {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {"machineID": self.machine_id, "systemUUID": self.machine_id, "bootID": self.boot_id,
                         "kernelVersion": platform.release(), "osImage": "kubeling fake node",
                         "containerRuntimeVersion": "fake://0.1.0", "kubeletVersion": KUBELET_VERSION,
                         "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux", "architecture": "amd64"},
        }

    def node_object(self) -> Obj:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", **self.labels}
        spec: Obj = {}
        if self.taints:
            spec["taints"] = self.taints
        if self.pod_cidr:
            spec["podCIDR"] = self.pod_cidr
            spec["podCIDRs"] = [self.pod_cidr]
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": labels,
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": spec, "status": self.status()}

    async def register(self) -> Obj:
        """Create the Node, or adopt the existing one; retried until the apiserver answers."""
        delay = 0.2
        while True:
            try:
                try:
                    self.node = await self.client.create(NODES, self.node_object())
                    log.info("registered node", extra={"node": self.name})
                except ApiError as e:
                    if e.code != 409:
                        raise
                    self.node = await self._adopt()
                    log.info("node already registered; updated it", extra={"node": self.name})
                self.registered.set()
                self._announce()
                return self.node
            except (ApiError, Unavailable, OSError) as e:
                log.warning("node registration failed; retrying", extra={"err": str(e)[:200], "in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 7.0)

    def _announce(self) -> None:
        """The node events a starting kubelet records (shown by `kubectl describe node`)."""
        if self.recorder is None:
            return
        ref = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": self.name, "uid": self.name, "namespace": ""}}
        self.recorder.event(ref, "Normal", "Starting", "Starting kubelet.")
        for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeReady"):
            self.recorder.event(ref, "Normal", reason, f"Node {self.name} status is now: {reason}")

    async def _adopt(self) -> Obj:
        cur = await self.client.get(NODES, self.name)
        md = cur.setdefault("metadata", {})
        md["labels"] = {**(md.get("labels") or {}), **self.node_object()["metadata"]["labels"]}
        spec = cur.setdefault("spec", {})
        if self.pod_cidr and not spec.get("podCIDR"):
            spec["podCIDR"], spec["podCIDRs"] = self.pod_cidr, [self.pod_cidr]
        cur = await self.client.update(NODES, cur)
        return await self.client.patch(NODES, self.name, {"status": self.status(cur.get("status"))}, subresource="status")

    async def renew_lease(self) -> None:
        """Renew the node's Lease: PUT the copy we last wrote (a GET only after a conflict, as
        upstream's lease controller), or create it."""
        now = micro_time()
        try:
            lease = self._lease
            if lease is None:
                lease = await self.client.get(LEASES, self.name, "kube-node-lease")
            lease = {**lease, "spec": {**lease.get("spec", {}), "renewTime": now, "holderIdentity": self.name,
                                       "leaseDurationSeconds": self.lease_seconds}}
            try:
                self._lease = await self.client.update(LEASES, lease)
            except ApiError as e:
                if e.code != 409:
                    raise
                self._lease = None  # somebody else wrote it: read it again on the next try
                raise
        except ApiError as e:
            if e.code != 404:
                raise
            self._lease = None
            owner = []
            if self.node and self.node.get("metadata", {}).get("uid"):
                owner = [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.node["metadata"]["uid"]}]
            self._lease = await self.client.create(
                LEASES, {"metadata": {"name": self.name, "namespace": "kube-node-lease", "ownerReferences": owner},
                         "spec": {"holderIdentity": self.name, "leaseDurationSeconds": self.lease_seconds,
                                  "renewTime": now}})

    async def post_status(self) -> None:
        """One status period (upstream's tryUpdateNodeStatus): read the Node from the apiserver's
        cache, write the status only if it changed or the report period is up."""
        try:
            cur = await self.client.get(NODES, self.name, resource_version="0")
            status = self.status(cur.get("status"))
            now = self.clock()
            if (self._reported_at is not None and now - self._reported_at < self.report_period
                    and not status_changed(cur.get("status") or {}, status)):
                self.node = cur
                return
            self.node = await self.client.patch(NODES, self.name, {"status": status}, subresource="status")
            self._reported_at = now
            self.status_posts += 1
        except ApiError as e:
            if e.code == 404:  # somebody deleted our Node: register again, as the kubelet does
                self.registered.clear()
                await self.register()
                return
            raise

    async def run(self) -> None:
        """Heartbeat forever: the Lease every period, the status every period, independently."""
        await asyncio.gather(self._loop("lease", self.renew_lease), self._loop("status", self.post_status))

    async def _loop(self, what: str, fn: Callable[[], Awaitable[None]]) -> None:
        backoff = RETRY_BASE
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # nothing may end a heartbeat loop: log, retry soon
                self.heartbeat_failures += 1
                delay = min(backoff, self.update_period)
                if isinstance(e, (ApiError, Unavailable, OSError)):
                    log.warning("heartbeat failed; retrying", extra={"node": self.name, "what": what,
                                                                     "err": str(e)[:200], "in": delay})
                else:
                    log.exception("heartbeat failed; retrying", extra={"node": self.name, "what": what, "in": delay})
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            backoff = RETRY_BASE
            if what == "lease":
                self.heartbeats += 1
            await asyncio.sleep(self.update_period)


def status_changed(old: Obj, new: Obj) -> bool:
    """Whether `new` (what the kubelet computed) differs from the Node's current status in any
    field the kubelet sets, heartbeat times aside (upstream's nodeStatusHasChanged). A condition
    the node controller changed (Ready=Unknown after missed heartbeats) counts as a change."""
    def beatless(conds: list[Obj] | None) -> list[Obj]:
        return sorted(({k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in conds or []),
                      key=lambda c: c.get("type", ""))
    for field, value in new.items():
        if field == "conditions":
            if beatless(old.get("conditions")) != beatless(value):
                return True
        elif old.get(field) != value:
            return True
    return False
