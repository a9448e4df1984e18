"""coordination.k8s.io/v1 Leases: node heartbeats and leader election."""
from __future__ import annotations


from ..api.models import coordination
from .strategy import Strategy


class LeaseStrategy(Strategy):
    group, kind, resource, singular = "coordination.k8s.io", "Lease", "leases", "lease"
    schema = coordination.Lease
