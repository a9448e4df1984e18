"""The node agent's /metrics, named after the kubelet's and kube-proxy's own, computed at scrape
time from the live state (a custom collector, so nothing can drift)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from .kubelet.kubelet import Kubelet
    from .proxy.proxier import Proxier

STATE = {"CONTAINER_RUNNING": "running", "CONTAINER_EXITED": "exited", "CONTAINER_CREATED": "created",
         "CONTAINER_UNKNOWN": "unknown"}


class NodeCollector:
    def __init__(self, node: str, kubelet: "Kubelet", proxier: "Proxier | None") -> None:
        self.node = node
        self.kubelet = kubelet
        self.proxier = proxier

    def collect(self) -> Iterator[object]:
        k = self.kubelet
        g = GaugeMetricFamily("kubelet_node_name", "The node's name.", labels=["node"])
        g.add_metric([self.node], 1)
        yield g
        sandboxes = sum(1 for sb in k.runtime.list_pod_sandbox() if sb.state == "SANDBOX_READY")
        yield GaugeMetricFamily("kubelet_running_pods", "Pods with a ready sandbox.", value=sandboxes)
        states = Counter(STATE.get(c.state, "unknown") for c in k.runtime.list_containers())
        g = GaugeMetricFamily("kubelet_running_containers", "Containers by state.", labels=["container_state"])
        for st in ("running", "exited", "created", "unknown"):
            g.add_metric([st], states.get(st, 0))
        yield g
        c = CounterMetricFamily("kubelet_started_containers", "Container starts (restarts included).")
        c.add_metric([], sum(x.attempt + 1 for x in k.runtime.list_containers()))
        yield c
        if self.proxier is not None:
            c = CounterMetricFamily("kubeproxy_sync_proxy_rules", "Rule syncs.")
            c.add_metric([], self.proxier.syncs)
            yield c
            yield GaugeMetricFamily("kubeproxy_service_ports", "ServicePorts programmed.", value=len(self.proxier.ports))
            c = CounterMetricFamily("kubeproxy_proxied_connections", "Connections carried by the userspace data path.")
            c.add_metric([], self.proxier.datapath.connections)
            yield c


def registry(node: str, kubelet: "Kubelet", proxier: "Proxier | None") -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(NodeCollector(node, kubelet, proxier))  # type: ignore[arg-type]
    return reg
