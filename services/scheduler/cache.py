"""The scheduler cache: every node with the pods assigned to it, plus pods *assumed* onto a
node while their binding is in flight.

Assuming is what lets the scheduler decide the next pod before the apiserver has answered the
last bind: the assumed pod already counts against its node, so nothing is double-booked. When
the informer reports the pod bound, the assumption is confirmed; when the bind fails, it is
forgotten; an assumption the informer never confirms expires after `ttl` seconds.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable

from .framework.interface import NodeInfo, Obj, pod_key


class Cache:
    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pod_node: dict[str, str] = {}  # pod key -> node it counts against
        self.pod_objs: dict[str, Obj] = {}  # pods on nodes that are not (yet) known
        self.assumed: dict[str, float] = {}  # pod key -> deadline (inf while binding)
        self.ttl = ttl
        self.clock = clock

    # -- nodes -------------------------------------------------------------------------------

    def add_or_update_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(node)
            for k, n in self.pod_node.items():  # pods that arrived before their node
                if n == name and k in self.pod_objs:
                    info.add_pod(self.pod_objs[k])
        else:
            info.set_node(node)

    def remove_node(self, node: Obj) -> None:
        self.nodes.pop(node["metadata"]["name"], None)

    def snapshot(self) -> list[NodeInfo]:
        self.cleanup_assumed()
        return [self.nodes[n] for n in sorted(self.nodes)]

    # -- assigned pods -----------------------------------------------------------------------

    def add_or_update_pod(self, pod: Obj) -> None:
        """An assigned pod from the informer; confirms an assumption for it."""
        k = pod_key(pod)
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            return
        self.assumed.pop(k, None)
        self._place(k, pod, node)

    def remove_pod(self, pod: Obj) -> None:
        k = pod_key(pod)
        self.assumed.pop(k, None)
        node = self.pod_node.pop(k, None)
        self.pod_objs.pop(k, None)
        if node and node in self.nodes:
            self.nodes[node].remove_pod(pod)

    def _place(self, k: str, pod: Obj, node: str) -> None:
        old = self.pod_node.get(k)
        if old and old != node and old in self.nodes:
            self.nodes[old].remove_pod(pod)
        self.pod_node[k] = node
        self.pod_objs[k] = pod
        if node in self.nodes:
            self.nodes[node].add_pod(pod)

    # -- assumptions -------------------------------------------------------------------------

    def assume(self, pod: Obj, node: str) -> Obj:
        """Count `pod` against `node` now; returns the assumed copy (with spec.nodeName set)."""
        assumed = copy.deepcopy(pod)
        assumed.setdefault("spec", {})["nodeName"] = node
        k = pod_key(pod)
        self.assumed[k] = float("inf")
        self._place(k, assumed, node)
        return assumed

    def finish_binding(self, pod: Obj) -> None:
        """The bind call returned: start the clock on confirmation by the informer."""
        k = pod_key(pod)
        if k in self.assumed:
            self.assumed[k] = self.clock() + self.ttl

    def forget(self, pod: Obj) -> None:
        """The bind failed: the pod no longer counts against the node."""
        k = pod_key(pod)
        if k in self.assumed:
            self.assumed.pop(k)
            self.remove_pod(pod)

    def is_assumed(self, pod: Obj) -> bool:
        return pod_key(pod) in self.assumed

    def cleanup_assumed(self) -> None:
        now = self.clock()
        for k, deadline in list(self.assumed.items()):
            if deadline <= now:
                obj = self.pod_objs.get(k)
                self.assumed.pop(k)
                if obj is not None:
                    self.remove_pod(obj)
