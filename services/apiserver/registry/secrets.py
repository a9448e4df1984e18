"""Secrets: stringData folded into base64 data; type is immutable."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from ..api.models import core
from ..validation.field import FieldError, invalid, required
from .strategy import Strategy


class SecretStrategy(Strategy):
    kind, resource, singular = "Secret", "secrets", "secret"
    schema = core.Secret
    field_selectors = ("type",)

    def canonicalize(self, obj: dict[str, Any]) -> None:
        """stringData is write-only: merged into data (base64) as upstream does."""
        sd = obj.pop("stringData", None)
        if isinstance(sd, dict):
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for k, v in sd.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data

    def default(self, obj: dict[str, Any]) -> None:
        obj.setdefault("type", "Opaque")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for k, v in (obj.get("data") or {}).items():
            try:
                base64.b64decode(v or "", validate=True)
            except (binascii.Error, ValueError):
                errs.append(invalid(f"data[{k}]", "<secret contents redacted>", "illegal base64 data"))
        if obj.get("type") == "kubernetes.io/service-account-token" and not (obj["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("type") != old.get("type"):
            errs.append(invalid("type", new.get("type"), "field is immutable"))
        if old.get("immutable") and new.get("data") != old.get("data"):
            errs.append(FieldError("Forbidden", "data", "field is immutable when `immutable` is set"))
        return errs

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        md = obj.get("metadata") or {}
        return {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""), "type": obj.get("type", "")}
