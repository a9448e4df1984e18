"""Namespaces: cluster-scoped, DNS-1123 label names, a `kubernetes` finalizer drained by the namespace controller."""
from __future__ import annotations

from typing import Any

from ..api.models import core
from ..validation.field import FieldError, invalid
from .strategy import Strategy


class NamespaceStrategy(Strategy):
    kind, resource, singular = "Namespace", "namespaces", "namespace"
    namespaced = False
    short_names = ("ns",)
    schema = core.Namespace
    has_status = True
    name_validator = "label"
    field_selectors = ("status.phase",)
    extra_subresources = (("finalize", "", "v1", "Namespace", ("update",)),)

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {"phase": "Active"}

    def default(self, obj: dict[str, Any]) -> None:
        md = obj.setdefault("metadata", {})
        labels = md.get("labels")
        if not isinstance(labels, dict):
            labels = md["labels"] = {}
        if md.get("name"):
            labels["kubernetes.io/metadata.name"] = md["name"]
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        if "finalizers" not in spec and not md.get("deletionTimestamp"):
            spec["finalizers"] = ["kubernetes"]
        obj.setdefault("status", {}).setdefault("phase", "Active")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for i, f in enumerate((obj.get("spec") or {}).get("finalizers") or []):
            if "/" not in f and f != "kubernetes":
                errs.append(invalid(f"spec.finalizers[{i}]", f, "name is neither a standard finalizer name nor is it fully qualified"))
        return errs

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"metadata.name": obj["metadata"].get("name", ""), "status.phase": (obj.get("status") or {}).get("phase", "")}

    def mark_for_deletion(self, obj: dict[str, Any]) -> bool:
        """Namespaces with spec.finalizers go Terminating; the namespace controller empties and finalizes them."""
        if (obj.get("spec") or {}).get("finalizers"):
            obj.setdefault("status", {})["phase"] = "Terminating"
            return True
        return False

    def deletion_pending(self, obj: dict[str, Any]) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))
