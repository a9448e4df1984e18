"""core/v1 Events: indexed by involvedObject for `kubectl describe`, expiring after an hour."""
from __future__ import annotations

from typing import Any

from ..api.models import core
from ..validation.field import FieldError, invalid
from .strategy import Strategy


class EventStrategy(Strategy):
    kind, resource, singular = "Event", "events", "event"
    short_names = ("ev",)
    ttl_seconds = 3600  # upstream's --event-ttl default
    schema = core.Event
    name_validator = "path"
    field_selectors = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                       "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                       "reason", "reportingComponent", "source", "type")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        io = obj.get("involvedObject") or {}
        ns = obj["metadata"].get("namespace")
        if io.get("namespace") and ns and io["namespace"] != ns:
            errs.append(invalid("involvedObject.namespace", io["namespace"], "does not match event.namespace"))
        return errs

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        md, io = obj.get("metadata") or {}, obj.get("involvedObject") or {}
        src = obj.get("source") or {}
        out = {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
               "reason": obj.get("reason", ""), "reportingComponent": obj.get("reportingComponent", ""),
               "source": src.get("component", ""), "type": obj.get("type", "")}
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
            out[f"involvedObject.{f}"] = str(io.get(f, ""))
        return out
