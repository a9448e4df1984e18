"""The shared shape of controllers with a pod template (selector, template, replicas, /scale)."""
from __future__ import annotations

from typing import Any

from ..validation.field import FieldError, invalid
from ..validation.podspec import validate_label_selector, validate_template
from . import defaults
from .strategy import Strategy


class WorkloadStrategy(Strategy):
    has_status = True
    has_generation = True
    restart_policies: tuple[str, ...] = ("Always",)
    default_replicas: int | None = 1
    selector_desc = "deployment"

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        if self.default_replicas is not None:
            spec.setdefault("replicas", self.default_replicas)
        defaults.pod_template(spec.get("template"))

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        errs += validate_label_selector(spec.get("selector"), "spec.selector", self.selector_desc)
        errs += validate_template(spec.get("template"), "spec.template", spec.get("selector"), "spec.selector",
                                  list(self.restart_policies))
        r = spec.get("replicas")
        if isinstance(r, int) and r < 0:
            errs.append(invalid("spec.replicas", r, "must be greater than or equal to 0"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        ns, os_ = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
        if ns != os_:
            errs.append(invalid("spec.selector", ns, "field is immutable"))
        return errs

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {}
