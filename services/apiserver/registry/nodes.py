"""Nodes: cluster-scoped, registered and heartbeated by node agents."""
from __future__ import annotations

from typing import Any

from ..api.models import core
from ..validation.field import FieldError, not_supported
from .strategy import Strategy


class NodeStrategy(Strategy):
    kind, resource, singular = "Node", "nodes", "node"
    namespaced = False
    short_names = ("no",)
    schema = core.Node
    has_status = True
    field_selectors = ("spec.unschedulable",)
    extra_subresources = (("proxy", "", "v1", "NodeProxyOptions", ("get",)),)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Node agents create their Node with status already filled; keep it (as upstream)."""

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for i, t in enumerate((obj.get("spec") or {}).get("taints") or []):
            eff = t.get("effect")
            if eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                errs.append(not_supported(f"spec.taints[{i}].effect", eff, ["NoExecute", "NoSchedule", "PreferNoSchedule"]))
        return errs

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"metadata.name": obj["metadata"].get("name", ""),
                "spec.unschedulable": "true" if (obj.get("spec") or {}).get("unschedulable") else "false"}
