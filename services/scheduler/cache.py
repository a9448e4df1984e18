"""The scheduler cache: every node with the pods assigned to it, plus pods *assumed* onto a
node while their binding is in flight.

Assuming is what lets the scheduler decide the next pod before the apiserver has answered the
last bind: the assumed pod already counts against its node, so nothing is double-booked. When
the informer reports the pod bound, the assumption is confirmed; when the bind fails, it is
forgotten; an assumption the informer never confirms expires after `ttl` seconds.

The snapshot a scheduling cycle reads is the cache's own NodeInfos, in a list kept in node-name
order and rebuilt only when nodes come or go: a cycle runs on the event loop without awaiting,
so no informer event can change a NodeInfo in the middle of it, and the running totals each
NodeInfo keeps (requests, ports, pods per controller) are already up to date. Upstream copies
the NodeInfos whose generation changed into its snapshot because its informers run in other
goroutines; here there is nothing to copy.
"""
from __future__ import annotations

import copy
import heapq
import time
from collections.abc import Callable

from .framework.interface import NodeInfo, Obj, pod_key


class Snapshot(list[NodeInfo]):
    """The nodes one scheduling cycle considers, in a stable order (round-robin needs one), and
    the few of them that hold pods with required anti-affinity (upstream's
    HavePodsWithRequiredAntiAffinityList), so InterPodAffinity need not visit every node."""

    def __init__(self, nodes: list[NodeInfo], with_anti: list[NodeInfo]) -> None:
        super().__init__(nodes)
        self.have_pods_with_required_anti_affinity = with_anti


class Cache:
    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pod_node: dict[str, str] = {}  # pod key -> node it counts against
        self.pod_objs: dict[str, Obj] = {}  # pods on nodes that are not (yet) known
        self.assumed: dict[str, float] = {}  # pod key -> deadline (inf while binding)
        self.ttl = ttl
        self.clock = clock
        self._expiry: list[tuple[float, str]] = []  # (deadline, pod key), a heap
        self._node_list: list[NodeInfo] | None = None  # rebuilt when nodes are added or removed
        self._anti_nodes: set[str] = set()  # nodes with pods that have required anti-affinity

    # -- nodes -------------------------------------------------------------------------------

    def add_or_update_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(node)
            self._node_list = None
            for k, n in self.pod_node.items():  # pods that arrived before their node
                if n == name and k in self.pod_objs:
                    info.add_pod(self.pod_objs[k])
            self._track_anti(name)
        else:
            info.set_node(node)

    def remove_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        if self.nodes.pop(name, None) is not None:
            self._node_list = None
        self._anti_nodes.discard(name)

    def snapshot(self) -> Snapshot:
        self.cleanup_assumed()
        if self._node_list is None:
            self._node_list = [self.nodes[n] for n in sorted(self.nodes)]
        return Snapshot(self._node_list, [self.nodes[n] for n in sorted(self._anti_nodes)])

    def _track_anti(self, node: str) -> None:
        info = self.nodes.get(node)
        if info is not None and info.pods_with_required_anti_affinity:
            self._anti_nodes.add(node)
        else:
            self._anti_nodes.discard(node)

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
            self._track_anti(node)

    def _place(self, k: str, pod: Obj, node: str) -> None:
        old = self.pod_node.get(k)
        if old and old != node and old in self.nodes:
            self.nodes[old].remove_pod(pod)
            self._track_anti(old)
        self.pod_node[k] = node
        self.pod_objs[k] = pod
        if node in self.nodes:
            self.nodes[node].add_pod(pod)
            self._track_anti(node)

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
            deadline = self.assumed[k] = self.clock() + self.ttl
            heapq.heappush(self._expiry, (deadline, k))

    def forget(self, pod: Obj) -> None:
        """The bind failed: the pod no longer counts against the node."""
        k = pod_key(pod)
        if k in self.assumed:
            self.assumed.pop(k)
            self.remove_pod(pod)

    def is_assumed(self, pod: Obj) -> bool:
        return pod_key(pod) in self.assumed

    def cleanup_assumed(self) -> None:
        """Expire assumptions whose bind returned `ttl` ago without the informer confirming it.
        Runs before every cycle, so it looks only at the earliest deadlines (a heap)."""
        now = self.clock()
        while self._expiry and self._expiry[0][0] <= now:
            deadline, k = heapq.heappop(self._expiry)
            if self.assumed.get(k) != deadline:
                continue  # confirmed, forgotten, or assumed again since
            obj = self.pod_objs.get(k)
            self.assumed.pop(k)
            if obj is not None:
                self.remove_pod(obj)
