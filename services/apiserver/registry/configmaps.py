"""ConfigMaps: data keys validated; immutable ConfigMaps refuse data changes."""
from __future__ import annotations

from typing import Any

from ..api.models import core
from ..validation.field import FieldError, invalid
from .strategy import Strategy


class ConfigMapStrategy(Strategy):
    kind, resource, singular = "ConfigMap", "configmaps", "configmap"
    short_names = ("cm",)
    schema = core.ConfigMap

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for f in ("data", "binaryData"):
            for k in (obj.get(f) or {}):
                if not k or len(k) > 253 or not all(ch.isalnum() or ch in "-._" for ch in k):
                    errs.append(invalid(f"{f}[{k}]", k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if old.get("immutable") and (new.get("data") != old.get("data") or new.get("binaryData") != old.get("binaryData")):
            errs.append(FieldError("Forbidden", "data", "field is immutable when `immutable` is set"))
        return errs
