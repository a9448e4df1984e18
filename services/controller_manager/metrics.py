"""Prometheus metrics of the controller-manager (served on /metrics)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.syncs = Counter("controller_manager_syncs_total", "Sync calls by controller and result",
                             ["controller", "result"], registry=self.registry)
        self.leader = Gauge("leader_election_master_status", "1 while this instance leads", ["name"],
                            registry=self.registry)
        self.evictions = Counter("node_collector_evictions_total", "Pods evicted by the taint manager",
                                 ["zone"], registry=self.registry)
        self.unhealthy_nodes = Gauge("node_collector_unhealthy_nodes_in_zone", "Nodes not Ready", ["zone"],
                                     registry=self.registry)
