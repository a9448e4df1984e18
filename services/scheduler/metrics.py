"""The scheduler's Prometheus metrics, named as upstream's (scheduler_*)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter("scheduler_schedule_attempts", "Scheduling attempts by result.",
                                ["result", "profile"], registry=self.registry)
        self.attempt_duration = Histogram("scheduler_scheduling_attempt_duration_seconds",
                                          "Scheduling attempt latency (filter + score + assume).", ["result"],
                                          buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1),
                                          registry=self.registry)
        self.pending = Gauge("scheduler_pending_pods", "Pending pods by sub-queue.", ["queue"], registry=self.registry)
        self.leader = Gauge("leader_election_master_status", "1 while this instance leads.", ["name"],
                            registry=self.registry)
