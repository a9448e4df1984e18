"""apps/v1 StatefulSets."""
from __future__ import annotations

from typing import Any

from ..api.models import apps
from .workload import WorkloadStrategy


class StatefulSetStrategy(WorkloadStrategy):
    group, kind, resource, singular = "apps", "StatefulSet", "statefulsets", "statefulset"
    short_names = ("sts",)
    categories = ("all",)
    schema = apps.StatefulSet
    has_scale = True
    selector_desc = "statefulset"

    def default(self, obj: dict[str, Any]) -> None:
        super().default(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("podManagementPolicy", "OrderedReady")
        us = spec.setdefault("updateStrategy", {})
        us.setdefault("type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
