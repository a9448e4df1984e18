"""apps/v1 Deployments: RollingUpdate 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600."""
from __future__ import annotations

from typing import Any

from ..api.models import apps
from .workload import WorkloadStrategy


class DeploymentStrategy(WorkloadStrategy):
    group, kind, resource, singular = "apps", "Deployment", "deployments", "deployment"
    short_names = ("deploy",)
    categories = ("all",)
    schema = apps.Deployment
    has_scale = True

    def default(self, obj: dict[str, Any]) -> None:
        super().default(obj)
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        st = spec.setdefault("strategy", {})
        if isinstance(st, dict):
            st.setdefault("type", "RollingUpdate")
            if st["type"] == "RollingUpdate":
                ru = st.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
