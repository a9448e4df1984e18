"""Bounded decoding of request bodies: JSON and YAML into JSON-shaped Python values.

A body is at most codec.MAX_BODY (3 MiB, upstream's MaxRequestBodyBytes), but what it decodes to is
bounded separately, as upstream bounds it:

- Nesting. Go's encoding/json (and sigs.k8s.io/json, a fork of it) refuse more than 10000 levels
  (`maxNestingDepth` in encoding/json/scanner.go; "exceeded max depth of 10000" in
  k8s.io/apimachinery/pkg/util/json). kubeling keeps far less: its objects are encoded with orjson,
  whose encoder refuses about 255 levels, and list items, watch events and Table rows wrap an object
  in a few more; Python code that walks objects (deepcopy, the YAML emitter) recurses per level.
  MAX_DEPTH is therefore 100 levels of arrays and objects, checked before anything recurses.
- YAML aliases. go-yaml v2 (behind sigs.k8s.io/yaml, decode.go `allowedAliasRatio`) lets alias
  expansion drive at most 99% of the decode operations of a small document, scaling down to 10% for
  one of 4,000,000 operations, and fails with "yaml: document contains excessive aliasing"
  (CVE-2019-11253). The same counting is done here, on libyaml's event stream (the C parser), so an
  alias bomb is refused after a few hundred thousand nodes instead of expanding to gigabytes.
- Numbers. Non-finite floats have no JSON form (Go: "json: unsupported value: +Inf"); integers outside
  int64 become floats, as k8s.io/apimachinery/pkg/util/json's convertNumber does for free-form data
  (typed fields refuse them in api/schema.py).
"""
from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import orjson
import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (AliasEvent, DocumentEndEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

MAX_DEPTH = 100
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class BodyError(ValueError):
    """A body that cannot be decoded within the bounds; the message is the client's."""


# --- depth ----------------------------------------------------------------------------------------

def _orjson_nesting_limit() -> int:
    """The number of nested arrays orjson's encoder refuses (255 in orjson 3.x), found once at import."""
    lo, hi = 1, 4096
    while lo < hi:  # the smallest depth that fails
        mid = (lo + hi) // 2
        v: Any = 0
        for _ in range(mid):
            v = [v]
        try:
            orjson.dumps(v)
            lo = mid + 1
        except orjson.JSONEncodeError:
            hi = mid
    return lo


_ORJSON_LIMIT = _orjson_nesting_limit()
assert _ORJSON_LIMIT > MAX_DEPTH + 8, "orjson must encode MAX_DEPTH levels inside list/watch/Table wrappers"
_PAD = _ORJSON_LIMIT - MAX_DEPTH - 1  # wrap a value in this many arrays: it encodes iff its depth <= MAX_DEPTH


def depth_error() -> BodyError:
    return BodyError(f"exceeded max depth of {MAX_DEPTH}")


def encoded_size(value: Any) -> int:
    """The size of `value` as JSON, refusing one nested deeper than MAX_DEPTH.

    Both in one pass of orjson's C encoder (tens of milliseconds for 3 MiB, where a Python walk over
    a million empty objects takes a second): wrapped in _PAD arrays, the value reaches orjson's
    nesting limit exactly when it is deeper than MAX_DEPTH.
    """
    wrapped = value
    for _ in range(_PAD):
        wrapped = [wrapped]
    try:
        return len(orjson.dumps(wrapped)) - 2 * _PAD
    except orjson.JSONEncodeError as e:
        if "ecursion" in str(e):
            raise depth_error() from None
        raise BodyError(f"json: unsupported value: {e}") from None


def clone(value: Any) -> Any:
    """A deep copy of a JSON-shaped value through orjson (about ten times copy.deepcopy's speed)."""
    if isinstance(value, (dict, list)):
        return orjson.loads(orjson.dumps(value))
    return value


# --- JSON -----------------------------------------------------------------------------------------

def load_json(raw: bytes) -> Any:
    """orjson's parser (its own recursion stops at 1024 levels), then the depth bound."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        msg = str(e)
        if "depth limit" in msg or "ecursion" in msg:
            raise depth_error() from None
        raise BodyError(msg) from None
    if isinstance(obj, (dict, list)):
        encoded_size(obj)
    return obj


# --- YAML -----------------------------------------------------------------------------------------

# go-yaml v2 decode.go
_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000


def _allowed_alias_ratio(decode_count: int) -> float:
    if decode_count <= _ALIAS_RATIO_LOW:
        return 0.99
    if decode_count >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decode_count - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


_T = "tag:yaml.org,2002:"
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_MERGE = object()  # the `<<` key
_NOKEY = object()


def _scalar(ev: ScalarEvent) -> Any:
    """A scalar as go-yaml v2 decodes it into interface{}: YAML 1.1 implicit types, timestamps kept
    as strings (decode.go: "for backward compatibility reasons we set it as a string")."""
    tag = ev.tag
    if tag is None or tag == "!":
        tag = _RESOLVER.resolve(ScalarNode, ev.value, ev.implicit)
    node = ScalarNode(tag, ev.value)
    if tag == _T + "null":
        return None
    if tag == _T + "bool":
        return _CONSTRUCTOR.construct_yaml_bool(node)
    if tag == _T + "int":
        try:
            n = _CONSTRUCTOR.construct_yaml_int(node)
        except ValueError:
            raise BodyError(f"yaml: cannot decode !!int `{ev.value[:64]}`") from None
        return n if INT64_MIN <= n <= INT64_MAX else float(n)
    if tag == _T + "float":
        try:
            f = _CONSTRUCTOR.construct_yaml_float(node)
        except ValueError:
            raise BodyError(f"yaml: cannot decode !!float `{ev.value[:64]}`") from None
        if not math.isfinite(f):
            raise BodyError(f"json: unsupported value: {'NaN' if math.isnan(f) else ('+Inf' if f > 0 else '-Inf')}")
        return f
    if tag == _T + "merge":
        return _MERGE
    if tag == _T + "binary":
        try:
            return base64.b64decode(ev.value, validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            raise BodyError("yaml: !!binary value contains invalid base64 data") from None
    return ev.value


def _key(k: Any) -> str:
    """sigs.k8s.io/yaml convertToJSONableObject: map keys become JSON strings."""
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int):
        return str(k)
    if isinstance(k, float):
        return f"{k:g}"
    kind = "<nil>" if k is None else ("map[interface {}]interface {}" if isinstance(k, dict) else "[]interface {}")
    raise BodyError(f"unsupported map key of type: {kind}")


class _Frame:
    __slots__ = ("value", "key", "anchor", "start", "deep", "merges")

    def __init__(self, value: dict[str, Any] | list[Any], anchor: str | None, start: int) -> None:
        self.value = value
        self.key: Any = _NOKEY
        self.anchor = anchor
        self.start = start
        self.deep = 1  # levels of this node and below
        self.merges: list[Any] = []


def load_yaml(raw: bytes) -> Any:
    """The first YAML document of `raw` as JSON-shaped values (sigs.k8s.io/yaml.YAMLToJSON).

    Built from libyaml's events without recursion: nesting is refused past MAX_DEPTH as soon as it
    is seen, and every alias is expanded into a copy (Go decodes each alias afresh) only after
    go-yaml's decode/alias budget allows it. A body that is JSON (the usual case: clients send
    JSON under a YAML content type too) takes orjson's path; the result is the same.
    """
    head = raw.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            return load_json(raw)
        except BodyError:
            pass  # YAML flow syntax that is not JSON, or JSON that is too deep: the YAML path decides
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, decode operations, depth)
    plain: dict[str, Any] = {}  # resolved plain scalars: documents repeat their values
    decoded = aliased = 0
    root: Any = None
    top: _Frame | None = None

    try:
        for ev in yaml.parse(raw, Loader=yaml.CSafeLoader):
            t = type(ev)
            if t is ScalarEvent:
                decoded += 1
                if ev.tag is None and ev.anchor is None:
                    if not ev.implicit[0]:
                        value = ev.value  # quoted: a string
                    elif ev.value in plain:
                        value = plain[ev.value]
                    else:
                        value = _scalar(ev)
                        if len(plain) < 4096 and len(ev.value) < 64:
                            plain[ev.value] = value
                else:
                    value = _scalar(ev)
                    if ev.anchor:
                        anchors[ev.anchor] = (value, 1, 0)
                deep = 0
            elif t is MappingStartEvent or t is SequenceStartEvent:
                decoded += 1
                if len(stack) >= MAX_DEPTH:
                    raise depth_error()
                top = _Frame({} if t is MappingStartEvent else [], ev.anchor, decoded)
                stack.append(top)
                continue
            elif t is MappingEndEvent or t is SequenceEndEvent:
                frame = stack.pop()
                top = stack[-1] if stack else None
                value = frame.value
                if frame.merges:
                    value = _merge(frame.merges, value)
                if frame.anchor:
                    anchors[frame.anchor] = (value, decoded - frame.start + 1, frame.deep)
                deep = frame.deep
            elif t is AliasEvent:
                decoded += 1
                if ev.anchor not in anchors:
                    raise BodyError(f"yaml: unknown anchor '{ev.anchor}' referenced")
                value, ops, deep = anchors[ev.anchor]
                decoded += ops
                aliased += ops
                if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
                    raise BodyError("yaml: document contains excessive aliasing")
                if len(stack) + deep > MAX_DEPTH:
                    raise depth_error()
                value = clone(value)
            elif t is DocumentEndEvent:
                break  # yaml.Unmarshal reads the first document only
            else:
                continue
            if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
                raise BodyError("yaml: document contains excessive aliasing")
            # place the finished value in its parent
            if top is None:
                root = "<<" if value is _MERGE else value
                continue
            if deep >= top.deep:
                top.deep = deep + 1
            container = top.value
            if type(container) is list:
                container.append("<<" if value is _MERGE else value)
            elif top.key is _NOKEY:
                top.key = value if value is _MERGE else _key(value)
            else:
                if top.key is _MERGE:
                    top.merges.append(value)
                else:
                    container[top.key] = "<<" if value is _MERGE else value
                top.key = _NOKEY
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise BodyError(f"yaml: {where}{e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise BodyError(f"yaml: {e}") from None
    return root


def _merge(sources: list[Any], explicit: dict[str, Any]) -> dict[str, Any]:
    """`<<: *base` / `<<: [*a, *b]`: keys of the mapping itself win, then earlier sources."""
    flat: list[dict[str, Any]] = []
    for s in sources:
        items = s if isinstance(s, list) else [s]
        for m in items:
            if not isinstance(m, dict):
                raise BodyError("yaml: map merge requires map or sequence of maps as the value")
            flat.append(m)
    out: dict[str, Any] = {}
    for m in reversed(flat):
        out.update(m)
    out.update(explicit)
    return out
