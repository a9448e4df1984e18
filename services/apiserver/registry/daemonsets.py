"""apps/v1 DaemonSets: RollingUpdate maxUnavailable 1 / maxSurge 0."""
from __future__ import annotations

from typing import Any

from ..api.models import apps
from .workload import WorkloadStrategy


class DaemonSetStrategy(WorkloadStrategy):
    group, kind, resource, singular = "apps", "DaemonSet", "daemonsets", "daemonset"
    short_names = ("ds",)
    categories = ("all",)
    schema = apps.DaemonSet
    default_replicas = None
    selector_desc = "daemonset"

    def default(self, obj: dict[str, Any]) -> None:
        super().default(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        us = spec.setdefault("updateStrategy", {})
        us.setdefault("type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            ru = us.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
