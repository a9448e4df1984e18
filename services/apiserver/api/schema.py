"""A tiny schema language for kubeling's resource definitions.

One description of every kind's fields drives three things, so they cannot drift apart:
strict decoding (unknown fields and wrong types, for fieldValidation=Strict|Warn), the strategic
merge patch merge keys, and the generated OpenAPI v3 documents (`kubectl explain`, `apply`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class T:
    """A schema node. `type` is one of string, integer, boolean, number, object, array, map,
    intstr (int or string), quantity (string or number), time, any."""

    type: str
    props: dict[str, "T"] = field(default_factory=dict)
    items: "T | None" = None
    name: str | None = None  # OpenAPI definition name, e.g. io.k8s.api.core.v1.Container
    merge_key: str | None = None
    strategy: str | None = None  # "merge", "merge,retainKeys", "replace"
    list_type: str | None = None  # "map", "set", "atomic"
    open: bool = False  # unknown fields are kept and not reported
    required: tuple[str, ...] = ()
    description: str = ""

    def child(self, key: str) -> "T | None":
        if self.type == "object":
            return self.props.get(key)
        if self.type == "map":
            return self.items
        return None


def S(description: str = "") -> T:
    return T("string", description=description)


def I(description: str = "") -> T:  # noqa: E743 - short names keep the tables readable
    return T("integer", description=description)


def B(description: str = "") -> T:
    return T("boolean", description=description)


def N(description: str = "") -> T:
    return T("number", description=description)


def IS(description: str = "") -> T:
    return T("intstr", description=description)


def Q(description: str = "") -> T:
    return T("quantity", description=description)


def TIME(description: str = "") -> T:
    return T("time", description=description)


def ANY(description: str = "") -> T:
    return T("any", open=True, description=description)


def M(values: T | None = None, description: str = "") -> T:
    return T("map", items=values or S(), description=description)


def A(items: T, merge_key: str | None = None, strategy: str | None = None, list_type: str | None = None,
      description: str = "") -> T:
    if merge_key and not strategy:
        strategy = "merge"
    if merge_key and not list_type:
        list_type = "map"
    return T("array", items=items, merge_key=merge_key, strategy=strategy, list_type=list_type, description=description)


def O(name: str | None, props: dict[str, T], description: str = "", required: tuple[str, ...] = (), open: bool = False) -> T:
    return T("object", props=props, name=name, description=description, required=required, open=open)


def OPEN(name: str | None = None, description: str = "") -> T:
    """An object whose inner fields kubeling does not model yet; anything is accepted and kept."""
    return T("object", name=name, open=True, description=description)


# --- strict decoding ----------------------------------------------------------------------------

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_PY_TYPES = {"string": (str,), "integer": (int,), "boolean": (bool,), "number": (int, float)}
_GO = {"string": "string", "integer": "int32", "boolean": "bool", "number": "float64", "array": "array",
       "object": "object", "map": "map[string]string", "time": "Time"}


def check(obj: Any, schema: T, path: str = "") -> tuple[list[str], list[str]]:
    """Walk `obj` against `schema`: return (unknown field paths, type error messages).

    Paths are spelled as upstream's strict decoder spells them (`spec.containers[0].port`).
    """
    unknown: list[str] = []
    errors: list[str] = []
    _check(obj, schema, path, unknown, errors)
    return unknown, errors


def _jsontype(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _check(obj: Any, s: T, path: str, unknown: list[str], errors: list[str]) -> None:
    if obj is None or s.type == "any":
        return
    t = s.type
    where = path or "."
    if t in _PY_TYPES:
        ok = isinstance(obj, _PY_TYPES[t]) and not (t != "boolean" and isinstance(obj, bool))
        if t == "integer" and isinstance(obj, float) and obj.is_integer():
            ok = True
        if not ok:
            errors.append(f"json: cannot unmarshal {_jsontype(obj)} into Go struct field {where} of type {_GO[t]}")
        elif t == "integer" and not _INT64_MIN <= obj <= _INT64_MAX:
            # encoding/json's UnmarshalTypeError for a number that does not fit the Go integer
            errors.append(f"json: cannot unmarshal number {int(obj)} into Go struct field {where} of type int64")
        return
    if t == "intstr":
        if not isinstance(obj, (int, str)) or isinstance(obj, bool):
            errors.append(f"json: cannot unmarshal {_jsontype(obj)} into Go struct field {where} of type intstr.IntOrString")
        return
    if t == "quantity":
        if not isinstance(obj, (int, float, str)) or isinstance(obj, bool):
            errors.append(f"json: cannot unmarshal {_jsontype(obj)} into Go struct field {where} of type resource.Quantity")
        return
    if t == "time":
        if not isinstance(obj, str):
            errors.append(f"json: cannot unmarshal {_jsontype(obj)} into Go struct field {where} of type v1.Time")
        return
    if t == "array":
        if not isinstance(obj, list):
            errors.append(f"json: cannot unmarshal {_jsontype(obj)} into Go struct field {where} of type []{s.items.type if s.items else 'any'}")
            return
        for i, item in enumerate(obj):
            if s.items is not None:
                _check(item, s.items, f"{path}[{i}]", unknown, errors)
        return
    if t == "map":
        if not isinstance(obj, dict):
            errors.append(f"json: cannot unmarshal {_jsontype(obj)} into Go struct field {where} of type map[string]{s.items.type if s.items else 'string'}")
            return
        if s.items is not None:
            for k, v in obj.items():
                if s.items.type == "string" and not isinstance(v, str) and v is not None:
                    errors.append(f"json: cannot unmarshal {_jsontype(v)} into Go struct field {where} of type string")
                else:
                    _check(v, s.items, f"{path}.{k}" if path else k, unknown, errors)
        return
    if t == "object":
        if not isinstance(obj, dict):
            errors.append(f"json: cannot unmarshal {_jsontype(obj)} into Go struct field {where} of type object")
            return
        if s.open:
            for k, v in obj.items():
                if k in s.props:
                    _check(v, s.props[k], f"{path}.{k}" if path else k, unknown, errors)
            return
        for k, v in obj.items():
            sub = s.props.get(k)
            p = f"{path}.{k}" if path else k
            if sub is None:
                unknown.append(p)
            else:
                _check(v, sub, p, unknown, errors)


def merge_info(schema: T | None, key: str) -> tuple[T | None, str | None, str | None]:
    """For strategic merge patch: the child schema of `key` and its (merge key, strategy)."""
    if schema is None:
        return None, None, None
    sub = schema.child(key)
    if sub is None:
        return None, None, None
    return sub, sub.merge_key, sub.strategy


def prune(obj: Any, s: T | None) -> Any:
    """Drop fields the schema does not know (what Go's decoder does for fieldValidation Ignore/Warn)."""
    if s is None or obj is None or s.type == "any":
        return obj
    if s.type == "object" and isinstance(obj, dict):
        if s.open:
            return obj
        return {k: prune(v, s.props[k]) for k, v in obj.items() if k in s.props}
    if s.type == "array" and isinstance(obj, list):
        return [prune(x, s.items) for x in obj]
    if s.type == "map" and isinstance(obj, dict):
        return {k: prune(v, s.items) for k, v in obj.items()}
    return obj
