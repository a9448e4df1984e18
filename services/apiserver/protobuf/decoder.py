"""Decode kubectl's protobuf request bodies (`k8s\\0` + runtime.Unknown) into JSON-shaped dicts.

kubectl 1.32's typed clients (`create namespace|configmap|secret|serviceaccount|deployment|job|
service|cronjob|quota|role|rolebinding|clusterrole|clusterrolebinding`) send protobuf and do not retry with JSON. Go's encoder writes every optional string, even empty,
so empty strings, zero timestamps and empty messages are treated as unset. Kinds outside the
tables answer 415 with a Status.

Malformed input of any kind (truncation, a varint where a message is expected, invalid UTF-8 in a
string, a timestamp outside RFC 3339's years) is a WireError, answered 400 by `decode`: a client's
fault, never an exception that escapes as a 500.
"""
from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

from ..api import errors
from .messages import KINDS, MESSAGES
from .wire import WireError, fields

MAGIC = b"k8s\x00"


# RFC 3339 years 0001-9999, the range Go's Time.MarshalJSON accepts
_MIN_SECONDS = int(_dt.datetime(1, 1, 1, tzinfo=_dt.timezone.utc).timestamp())
_MAX_SECONDS = int(_dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.timezone.utc).timestamp())


def _text(v: int | bytes, field: str) -> str:
    if not isinstance(v, bytes):
        raise WireError(f"proto: wrong wireType = 0 for field {field}")
    try:
        return v.decode()
    except UnicodeDecodeError:
        raise WireError(f"proto: invalid UTF-8 in field {field}") from None


def _bytes(v: int | bytes, field: str) -> bytes:
    if not isinstance(v, bytes):
        raise WireError(f"proto: wrong wireType = 0 for field {field}")
    return v


def _number(v: int | bytes, field: str) -> int:
    if isinstance(v, bytes):
        raise WireError(f"proto: wrong wireType = 2 for field {field}")
    return v


def _scalar(kind: str, v: int | bytes, field: str) -> Any:
    if kind == "string":
        return _text(v, field)
    if kind == "bytes":
        return base64.b64encode(_bytes(v, field)).decode()
    if kind == "int":
        n = _number(v, field)
        return n - (1 << 64) if n >= 1 << 63 else n
    if kind == "bool":
        return bool(_number(v, field))
    raise WireError(f"bad scalar kind {kind}")


def _map_entry(buf: bytes, value_kind: str, field: str) -> tuple[str, Any]:
    key, val = "", ""
    for num, wt, v in fields(buf):
        if num == 1:
            key = _text(v, field)
        elif num == 2:
            if value_kind == "bytes":
                val = base64.b64encode(_bytes(v, field)).decode()
            elif value_kind == "quantity":
                val = next((_text(x, field) for n, _, x in fields(_bytes(v, field)) if n == 1), "")
            else:
                val = _text(v, field)
    return key, val


def _intstr(buf: bytes, field: str) -> Any:
    typ, ival, sval = 0, 0, ""
    for num, _, v in fields(buf):
        if num == 1:
            typ = _number(v, field)
        elif num == 2:
            ival = _scalar("int", v, field)
        elif num == 3:
            sval = _text(v, field)
    return sval if typ == 1 else ival


def _time(buf: bytes, field: str) -> str | None:
    secs = 0
    for num, _, v in fields(buf):
        if num == 1:
            secs = _scalar("int", v, field)
    if not secs:
        return None
    if not _MIN_SECONDS <= secs <= _MAX_SECONDS:
        raise WireError(f"proto: timestamp seconds {secs} of field {field} are outside the years 0001-9999")
    return _dt.datetime.fromtimestamp(secs, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_message(buf: bytes, name: str) -> dict[str, Any]:
    table = MESSAGES[name]
    out: dict[str, Any] = {}
    for num, wt, v in fields(buf):
        spec = table.get(num)
        if spec is None:
            continue  # fields kubeling does not model for this kind are dropped, as an older server would
        jname, kind = spec
        pointer = kind.endswith("?")
        kind = kind.rstrip("?")
        many = kind.startswith("[]")
        base = kind[2:] if many else kind
        where = f"{name}.{jname}"
        if base in ("map", "bytesmap", "qmap"):
            k, val = _map_entry(_bytes(v, where), {"map": "string", "bytesmap": "bytes", "qmap": "quantity"}[base], where)
            out.setdefault(jname, {})[k] = val
            continue
        if base == "intstr":
            val = _intstr(_bytes(v, where), where)
        elif base == "time":
            val = _time(_bytes(v, where), where)
            if val is None:
                continue
        elif base in MESSAGES:
            val = decode_message(_bytes(v, where), base)
        else:
            val = _scalar(base, v, where)
            if not pointer and not many and val in (0, False) and base in ("int", "bool"):
                continue  # a Go non-pointer zero value: the same as unset
        if many:
            out.setdefault(jname, []).append(val)
        else:
            out[jname] = val
    # Go writes empty strings for unset optional fields: drop them (and empty nested messages)
    return {k: v for k, v in out.items() if v not in ("", {}) or k in ("resources",)}


def decode(raw: bytes) -> dict[str, Any]:
    if not raw.startswith(MAGIC):
        raise errors.bad_request("the protobuf body does not start with the Kubernetes magic number")
    try:
        api_version = kind = ""
        payload = b""
        for num, _, v in fields(raw[len(MAGIC):]):
            if num == 1:
                for n2, _, v2 in fields(_bytes(v, "Unknown.typeMeta")):
                    if n2 == 1:
                        api_version = _text(v2, "TypeMeta.apiVersion")
                    elif n2 == 2:
                        kind = _text(v2, "TypeMeta.kind")
            elif num == 2:
                payload = _bytes(v, "Unknown.raw")
        msg = KINDS.get((api_version, kind))
        if msg is None:
            raise errors.StatusError(415, "UnsupportedMediaType",
                                     f"the body of the request was in an unknown format - kubeling decodes protobuf only for "
                                     f"{', '.join(sorted(k for _, k in KINDS))}; send {kind or 'this object'} as application/json")
        obj = decode_message(payload, msg)
    except WireError as e:
        raise errors.bad_request(f"invalid protobuf body: {e}") from None
    obj["apiVersion"], obj["kind"] = api_version, kind
    obj.pop("status", None)
    return obj
