"""Decode kubectl's protobuf request bodies (`k8s\\0` + runtime.Unknown) into JSON-shaped dicts.

kubectl 1.32's typed clients (`create namespace|configmap|secret|serviceaccount|deployment|job|
service|cronjob|quota|role|rolebinding|clusterrole|clusterrolebinding`) send protobuf and do not retry with JSON. Go's encoder writes every optional string, even empty,
so empty strings, zero timestamps and empty messages are treated as unset. Kinds outside the
tables answer 415 with a Status.
"""
from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

from ..api import errors
from .messages import KINDS, MESSAGES
from .wire import WireError, fields

MAGIC = b"k8s\x00"


def _scalar(kind: str, wt: int, v: int | bytes) -> Any:
    if kind == "string":
        return v.decode() if isinstance(v, bytes) else str(v)
    if kind == "bytes":
        return base64.b64encode(v).decode() if isinstance(v, bytes) else ""
    if kind == "int":
        n = int(v)
        return n - (1 << 64) if n >= 1 << 63 else n
    if kind == "bool":
        return bool(v)
    raise WireError(f"bad scalar kind {kind}")


def _map_entry(buf: bytes, value_kind: str) -> tuple[str, Any]:
    key, val = "", None
    for num, wt, v in fields(buf):
        if num == 1:
            key = v.decode()
        elif num == 2:
            if value_kind == "bytes":
                val = base64.b64encode(v).decode()
            elif value_kind == "quantity":
                val = next((x.decode() for n, _, x in fields(v) if n == 1), "")
            else:
                val = v.decode()
    if val is None:
        val = "" if value_kind != "bytes" else ""
    return key, val


def _intstr(buf: bytes) -> Any:
    typ, ival, sval = 0, 0, ""
    for num, _, v in fields(buf):
        if num == 1:
            typ = v
        elif num == 2:
            ival = v
        elif num == 3:
            sval = v.decode()
    return sval if typ == 1 else ival


def _time(buf: bytes) -> str | None:
    secs = 0
    for num, _, v in fields(buf):
        if num == 1:
            secs = v
    if not secs:
        return None
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
        if base in ("map", "bytesmap", "qmap"):
            k, val = _map_entry(v, {"map": "string", "bytesmap": "bytes", "qmap": "quantity"}[base])
            out.setdefault(jname, {})[k] = val
            continue
        if base == "intstr":
            val = _intstr(v)
        elif base == "time":
            val = _time(v)
            if val is None:
                continue
        elif base in MESSAGES:
            val = decode_message(v, base)
        else:
            val = _scalar(base, wt, v)
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
                for n2, _, v2 in fields(v):
                    if n2 == 1:
                        api_version = v2.decode()
                    elif n2 == 2:
                        kind = v2.decode()
            elif num == 2:
                payload = v
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
