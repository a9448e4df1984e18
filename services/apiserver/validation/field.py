"""Field errors, formatted as upstream's `k8s.io/apimachinery/pkg/util/validation/field` does.

`kubectl` rebuilds its "The Pod "x" is invalid: ..." line from `details.causes`, so the reasons
and messages follow upstream to the letter.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..api.errors import StatusError

_REASONS = {"Required": "FieldValueRequired", "Invalid": "FieldValueInvalid", "NotSupported": "FieldValueNotSupported",
            "Duplicate": "FieldValueDuplicate", "Forbidden": "FieldValueForbidden", "TooLong": "FieldValueTooLong",
            "TooMany": "FieldValueTooMany", "NotFound": "FieldValueNotFound"}


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dict):
        return "map[string]string{" + ", ".join(f"{json.dumps(k)}:{json.dumps(x)}" for k, x in v.items()) + "}"
    return json.dumps(v)


@dataclass
class FieldError:
    type: str
    field: str
    detail: str = ""
    bad_value: Any = None

    @property
    def message(self) -> str:
        if self.type == "Required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        if self.type == "Forbidden":
            return "Forbidden" + (f": {self.detail}" if self.detail else "")
        if self.type == "NotSupported":
            return f"Unsupported value: {_fmt(self.bad_value)}" + (f": supported values: {self.detail}" if self.detail else "")
        if self.type == "Duplicate":
            return f"Duplicate value: {_fmt(self.bad_value)}"
        if self.type == "NotFound":
            return f"Not found: {_fmt(self.bad_value)}"
        if self.type == "TooLong":
            return f"Too long: {self.detail}"
        return f"Invalid value: {_fmt(self.bad_value)}" + (f": {self.detail}" if self.detail else "")

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("Required", field, detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("Invalid", field, detail, value)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError("NotSupported", field, ", ".join(json.dumps(s) for s in supported), value)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("Forbidden", field, detail)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("Duplicate", field, "", value)


def invalid_error(kind: str, name: str, errs: list[FieldError], group: str = "") -> StatusError:
    """422 Invalid with the causes kubectl prints."""
    msgs = [str(e) for e in errs]
    summary = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    qkind = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"name": name, "kind": kind,
                               "causes": [{"reason": _REASONS[e.type], "message": e.message, "field": e.field} for e in errs]}
    if group:
        details["group"] = group
    return StatusError(422, "Invalid", f'{qkind} "{name}" is invalid: {summary}', details)
