"""ResourceQuotas: spec.hard is mirrored into status.hard; status.used is maintained by quota admission."""
from __future__ import annotations

from typing import Any

from ..api.models import core
from ..api.quantity import parse_quantity
from ..validation.field import FieldError, invalid
from .strategy import Strategy


class ResourceQuotaStrategy(Strategy):
    kind, resource, singular = "ResourceQuota", "resourcequotas", "resourcequota"
    short_names = ("quota",)
    schema = core.ResourceQuota
    has_status = True

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {"hard": dict((obj.get("spec") or {}).get("hard") or {})}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        st = new.setdefault("status", {})
        st["hard"] = dict((new.get("spec") or {}).get("hard") or {})

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for k, v in ((obj.get("spec") or {}).get("hard") or {}).items():
            try:
                q = parse_quantity(v)
                if q < 0:
                    errs.append(invalid(f"spec.hard[{k}]", v, "must be greater than or equal to 0"))
            except ValueError:
                errs.append(invalid(f"spec.hard[{k}]", v, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
        return errs
