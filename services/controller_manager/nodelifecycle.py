"""Node lifecycle: notice silent nodes, mark them Unknown, taint them, take their pods out of service.

Every --node-monitor-period the controller looks at each node's heartbeats: its Lease in
kube-node-lease (renewTime) and its Ready condition's lastHeartbeatTime. What counts is when
*this process* last saw either change (a probe timestamp on our own monotonic clock), never
a comparison of clocks across machines. A node silent for longer than
--node-monitor-grace-period (--node-startup-grace-period if it never became Ready) gets all its
conditions set to Unknown, reason NodeStatusUnknown, as upstream does.

The node's Ready condition then decides its taints (TaintBasedEvictions):
Ready=False -> node.kubernetes.io/not-ready, Ready=Unknown -> node.kubernetes.io/unreachable,
each as NoSchedule (the scheduler keeps new pods away) and NoExecute (the taint-eviction
controller evicts pods once their tolerationSeconds run out). A node that comes back Ready
loses both. Pods on a node that is not Ready are marked Ready=False, so endpoints drop them.
"""
from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers

from .controller import Context, Controller
from .podutil import condition, now_rfc3339
from .resources import LEASES, NODES, PODS

Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclass
class Health:
    probe: float  # monotonic time we last saw the node alive (or first saw it)
    lease_renew: str = ""
    heartbeat: str = ""


# TaintNodesByCondition: condition (type, status) -> NoSchedule taint key
CONDITION_TAINTS = {("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
                    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
                    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
                    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable"}
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MANAGED = {NOT_READY, UNREACHABLE, UNSCHEDULABLE, *CONDITION_TAINTS.values()}


def desired_taints(node: Obj) -> list[Obj]:
    """The taints the node's conditions and spec.unschedulable call for.

    Ready=False -> not-ready, Ready=Unknown -> unreachable (NoSchedule and NoExecute); pressure
    and NetworkUnavailable conditions -> NoSchedule; a cordoned node -> unschedulable:NoSchedule.
    """
    out: list[Obj] = []
    ready = condition(node, "Ready")
    status = ready.get("status", "Unknown") if ready else None
    key = {"False": NOT_READY, "Unknown": UNREACHABLE}.get(status or "")
    if key:
        out += [{"key": key, "effect": "NoSchedule"}, {"key": key, "effect": "NoExecute"}]
    for c in (node.get("status") or {}).get("conditions") or []:
        k = CONDITION_TAINTS.get((c.get("type"), c.get("status")))
        if k:
            out.append({"key": k, "effect": "NoSchedule"})
    if (node.get("spec") or {}).get("unschedulable"):
        out.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
    return out


def full_disruption(nodes: list[Obj]) -> bool:
    """Every node not Ready: upstream then assumes the control plane, not the nodes, is cut off
    and stops evicting (the zone is in FullDisruption and so is every zone)."""
    return bool(nodes) and all((condition(n, "Ready") or {}).get("status") != "True" for n in nodes)


def reconcile_taints(node: Obj, now: str, evictions: bool = True) -> list[Obj] | None:
    """The node's new taint list, or None when the managed taints are already right.

    Taints set by anyone else are kept; a managed taint already present keeps its timeAdded,
    so eviction deadlines do not move on every pass. Without `evictions` no NoExecute taint is
    kept or added (a full disruption halts evictions).
    """
    current = list((node.get("spec") or {}).get("taints") or [])
    want = [t for t in desired_taints(node) if evictions or t["effect"] != "NoExecute"]
    ours = [t for t in current if t.get("key") in MANAGED]
    if {(t["key"], t.get("effect")) for t in ours} == {(t["key"], t["effect"]) for t in want}:
        return None
    keep = [t for t in current if t.get("key") not in MANAGED]
    old = {(t["key"], t.get("effect")): t for t in ours}
    for t in want:
        prev = old.get((t["key"], t["effect"]))
        if prev is not None:
            keep.append(prev)
        elif t["effect"] == "NoExecute":
            keep.append({**t, "timeAdded": now})
        else:
            keep.append(dict(t))
    return keep


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    event_source = "node-controller"
    default_workers = 1

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.leases = self.informer(LEASES)
        self.pods = self.informer(PODS)
        self.health: dict[str, Health] = {}
        self.evictions_halted = False
        self.nodes.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new),
                                         lambda n: self.health.pop(n["metadata"]["name"], None)))

    async def background(self) -> None:
        while True:
            try:
                await self.monitor_node_health()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("node health pass failed")
            await asyncio.sleep(self.options.node_monitor_period)

    async def monitor_node_health(self) -> None:
        now = time.monotonic()
        unhealthy = 0
        for node in self.nodes.list():
            name = node["metadata"]["name"]
            lease = self.leases.get(f"kube-node-lease/{name}")
            renew = ((lease or {}).get("spec") or {}).get("renewTime") or ""
            beat = (condition(node, "Ready") or {}).get("lastHeartbeatTime") or ""
            h = self.health.get(name)
            if h is None:
                h = self.health[name] = Health(now, renew, beat)
            elif renew != h.lease_renew or beat != h.heartbeat:
                h.probe, h.lease_renew, h.heartbeat = now, renew, beat
            ready = condition(node, "Ready")
            grace = self.options.node_monitor_grace_period if ready else self.options.node_startup_grace_period
            if now - h.probe > grace and (ready or {}).get("status") != "Unknown":
                await self._mark_unknown(node, ready is None)
            if (condition(node, "Ready") or {}).get("status") != "True":
                unhealthy += 1
            self.queue.add(name)
        self.ctx.metrics.unhealthy_nodes.labels("").set(unhealthy)
        halted = full_disruption(self.nodes.list())
        if halted != self.evictions_halted:
            self.evictions_halted = halted
            if halted:
                self.log.warning("every node is unhealthy: assuming a control-plane side disruption, evictions halted")
            else:
                self.log.info("nodes healthy again: evictions resumed")
            for n in self.nodes.list():
                self.queue.add(n["metadata"]["name"])

    async def _mark_unknown(self, node: Obj, never_ready: bool) -> None:
        """Every node condition to Unknown: the kubelet has stopped telling us anything."""
        name = node["metadata"]["name"]
        new = copy.deepcopy(node)
        conds = new.setdefault("status", {}).setdefault("conditions", [])
        ts = now_rfc3339()
        by_type = {c.get("type"): c for c in conds}
        for t in NODE_CONDITIONS:
            c = by_type.get(t)
            if c is None:
                if t != "Ready":
                    continue
                conds.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                              "message": "Kubelet never posted node status.", "lastHeartbeatTime": ts,
                              "lastTransitionTime": ts})
                continue
            if c.get("status") == "Unknown":
                continue
            c.update({"status": "Unknown", "reason": "NodeStatusUnknown",
                      "message": "Kubelet stopped posting node status.", "lastTransitionTime": ts})
        try:
            await self.client.update_status(NODES, new)
        except ApiError as e:
            if e.code in (404, 409):
                return  # it changed: the kubelet may be back; look again next period
            raise
        self.log.info("node stopped posting status; marked Unknown", extra={"node": name})
        self.recorder.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        taints = reconcile_taints(node, now_rfc3339(), evictions=not self.evictions_halted)
        if taints is not None:
            md = node["metadata"]
            await self.client.patch(NODES, md["name"], {"metadata": {"resourceVersion": md.get("resourceVersion")},
                                                        "spec": {"taints": taints}})
            self.log.info("node taints updated", extra={"node": md["name"],
                                                         "taints": ",".join(f"{t['key']}:{t['effect']}" for t in taints)})
        if (condition(node, "Ready") or {}).get("status") != "True":
            await self._mark_pods_not_ready(key)

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """Ready=False on every pod of the node (MarkPodsNotReady), so endpoints stop sending them traffic."""
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            c = condition(pod, "Ready")
            if c is None or c.get("status") == "False":
                continue
            new = copy.deepcopy(pod)
            for cond in new["status"]["conditions"]:
                if cond.get("type") == "Ready":
                    cond.update({"status": "False", "lastTransitionTime": now_rfc3339()})
                    cond.pop("reason", None)
                    cond.pop("message", None)
            try:
                await self.client.update_status(PODS, new)
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
                self.queue.add_rate_limited(node_name)
