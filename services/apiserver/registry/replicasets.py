"""apps/v1 ReplicaSets."""
from ..api.models import apps
from .workload import WorkloadStrategy


class ReplicaSetStrategy(WorkloadStrategy):
    group, kind, resource, singular = "apps", "ReplicaSet", "replicasets", "replicaset"
    short_names = ("rs",)
    categories = ("all",)
    schema = apps.ReplicaSet
    has_scale = True
    selector_desc = "replicaset"
