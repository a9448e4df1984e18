"""core/v1 ReplicationControllers: the selector (a plain map) defaults to the template's labels."""
from __future__ import annotations

from typing import Any

from ..api.models import core
from ..validation.field import FieldError, required
from ..validation.names import validate_labels
from ..validation.podspec import validate_template
from . import defaults
from .selectors import selector_from_map
from .workload import WorkloadStrategy


class ReplicationControllerStrategy(WorkloadStrategy):
    kind, resource, singular = "ReplicationController", "replicationcontrollers", "replicationcontroller"
    short_names = ("rc",)
    categories = ("all",)
    schema = core.ReplicationController
    has_scale = True

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        spec.setdefault("replicas", 1)
        tmpl = spec.get("template")
        labels = ((tmpl or {}).get("metadata") or {}).get("labels") if isinstance(tmpl, dict) else None
        if labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            md = obj.setdefault("metadata", {})
            if not md.get("labels"):
                md["labels"] = dict(labels)
        defaults.pod_template(tmpl)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        from .strategy import Strategy
        errs = Strategy.validate(self, obj)
        spec = obj.get("spec") or {}
        sel = spec.get("selector")
        if not sel:
            errs.append(required("spec.selector"))
        errs += validate_labels(sel, "spec.selector")
        errs += validate_template(spec.get("template"), "spec.template", sel or None, "spec.selector", ["Always"], selector_is_map=True)
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        from .strategy import Strategy
        return Strategy.validate_update(self, new, old)

    def scale_selector(self, obj: dict[str, Any]) -> str:
        return str(selector_from_map((obj.get("spec") or {}).get("selector")))
