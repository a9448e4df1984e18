"""The JSON gateway's wire format: decode request messages into plain Python values, encode
responses the way grpc-gateway's proto3 JSON does (grpc-gateway v1's jsonpb marshaler, as etcd 3.4 configures it).

Rules that clients depend on: bytes are standard padded base64; int64 fields are JSON strings in
responses and either strings or numbers in requests; enums are names or numbers; zero values
(false, 0, "", empty lists) are omitted from responses; unknown request fields are ignored.
Decoded requests are plain dicts of bytes/int/bool so they can be validated before replication
and pickled into the Raft log as data, never as objects with behaviour.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from .errors import bad_request

_B64_ALPHABET = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

SORT_ORDERS = {"NONE": 0, "ASCEND": 1, "DESCEND": 2}
SORT_TARGETS = {"KEY": 0, "VERSION": 1, "CREATE": 2, "MOD": 3, "VALUE": 4}
COMPARE_RESULTS = {"EQUAL": 0, "GREATER": 1, "LESS": 2, "NOT_EQUAL": 3}
COMPARE_TARGETS = {"VERSION": 0, "CREATE": 1, "MOD": 2, "VALUE": 3, "LEASE": 4}
WATCH_FILTERS = {"NOPUT": 0, "NODELETE": 1}


# ---------------------------------------------------------------- request side

def parse_json(body: bytes) -> dict:
    """Parse a request body; an empty body is `{}` as in the gateway. Errors read like Go's."""
    if not body.strip():
        return {}
    try:
        obj = json.loads(body)
    except UnicodeDecodeError:
        raise bad_request("invalid character looking for beginning of value") from None
    except json.JSONDecodeError as e:
        raise bad_request(go_json_error(body, e)) from None
    if not isinstance(obj, dict):
        raise bad_request(f"json: cannot unmarshal {go_json_type(obj)} into Go value of type map[string]json.RawMessage")
    return obj


def go_json_error(body: bytes, e: json.JSONDecodeError) -> str:
    """Approximate encoding/json's syntax error text, e.g. the gateway's
    `invalid character 'b' looking for beginning of object key string`."""
    text = e.doc
    if e.pos >= len(text.rstrip()):
        return "unexpected EOF"
    ch = text[e.pos]
    if e.msg.startswith("Expecting property name"):
        return f"invalid character {ch!r} looking for beginning of object key string"
    if e.msg.startswith("Expecting ',' delimiter") or e.msg.startswith("Expecting ':' delimiter"):
        where = "after object key" if "':'" in e.msg else "after object key:value pair"
        return f"invalid character {ch!r} {where}"
    if e.msg.startswith("Extra data"):
        return f"invalid character {ch!r} after top-level value"
    return f"invalid character {ch!r} looking for beginning of value"


def go_json_type(v: Any) -> str:
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


def b64decode_go(s: str) -> bytes:
    """Decode standard padded base64 exactly as Go's base64.StdEncoding does, including the byte
    offset in its error text ("illegal base64 data at input byte 4")."""
    if len(s) % 4 == 0:
        try:  # fast path: well-formed input (binascii's strict mode is as strict as Go here)
            return binascii.a2b_base64(s, strict_mode=True)
        except (binascii.Error, ValueError):
            pass
    return _b64decode_go_slow(s)


def _b64decode_go_slow(s: str) -> bytes:
    raw = s.encode("latin-1", errors="replace") if isinstance(s, str) else s
    # Go skips \r and \n anywhere in the input.
    clean = bytearray()
    positions = []
    for i, c in enumerate(raw):
        if c in (10, 13):
            continue
        clean.append(c)
        positions.append(i)
    n = len(clean)
    i = 0
    while i < n:
        quantum = clean[i:i + 4]
        for j, c in enumerate(quantum):
            if c == ord("="):
                if j < 2:
                    raise bad_request(f"illegal base64 data at input byte {positions[i + j]}")
                rest = quantum[j:]
                expected_pad = 4 - j
                if len(rest) < expected_pad:
                    raise bad_request(f"illegal base64 data at input byte {len(raw)}")
                if any(x != ord("=") for x in rest):
                    bad = j + next(k for k, x in enumerate(rest) if x != ord("="))
                    raise bad_request(f"illegal base64 data at input byte {positions[i + bad]}")
                if i + 4 < n:
                    raise bad_request(f"illegal base64 data at input byte {positions[i + 4]}")
                break
            if c not in _B64_ALPHABET:
                raise bad_request(f"illegal base64 data at input byte {positions[i + j]}")
        else:
            if len(quantum) < 4:
                raise bad_request(f"illegal base64 data at input byte {len(raw) - len(quantum)}")
        i += 4
    try:
        return base64.b64decode(bytes(clean), validate=True)
    except (binascii.Error, ValueError) as e:  # pragma: no cover - guarded above
        raise bad_request(f"illegal base64 data at input byte 0 ({e})") from None


def get_bytes(d: dict, field: str) -> bytes:
    v = d.get(field)
    if v is None:
        return b""
    if not isinstance(v, str):
        raise bad_request(f"json: cannot unmarshal {go_json_type(v)} into Go value of type []uint8")
    return b64decode_go(v)


def get_int(d: dict, field: str, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    v = d.get(field)
    if v is None:
        return 0
    if isinstance(v, bool):
        raise bad_request("json: cannot unmarshal bool into Go value of type int64")
    if isinstance(v, float):
        if not v.is_integer() or math.isinf(v):
            raise bad_request(f"json: cannot unmarshal number {v} into Go value of type int64")
        v = int(v)
    elif isinstance(v, str):
        try:
            v = int(v.strip(), 10)
        except ValueError:
            raise bad_request(f'strconv.ParseInt: parsing "{d.get(field)}": invalid syntax') from None
    elif not isinstance(v, int):
        raise bad_request(f"json: cannot unmarshal {go_json_type(v)} into Go value of type int64")
    if not lo <= v <= hi:
        raise bad_request(f'strconv.ParseInt: parsing "{v}": value out of range')
    return v


def get_bool(d: dict, field: str) -> bool:
    v = d.get(field)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise bad_request(f"json: cannot unmarshal {go_json_type(v)} into Go value of type bool")
    return v


def get_enum(d: dict, field: str, names: dict[str, int]) -> int:
    v = d.get(field)
    if v is None:
        return 0
    if isinstance(v, str):
        if v in names:
            return names[v]
        raise bad_request(f"unknown value {json.dumps(v)} for enum {field}")
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise bad_request(f"json: cannot unmarshal {go_json_type(v)} into Go value of type int32")


def get_obj(d: dict, field: str) -> dict:
    v = d.get(field)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise bad_request(f"json: cannot unmarshal {go_json_type(v)} into Go value of type map[string]json.RawMessage")
    return v


def get_list(d: dict, field: str) -> list:
    v = d.get(field)
    if v is None:
        return []
    if not isinstance(v, list):
        raise bad_request(f"json: cannot unmarshal {go_json_type(v)} into Go value of type []json.RawMessage")
    return v


def decode_range(d: dict) -> dict:
    return {
        "key": get_bytes(d, "key"),
        "range_end": get_bytes(d, "range_end"),
        "limit": get_int(d, "limit"),
        "revision": get_int(d, "revision"),
        "sort_order": get_enum(d, "sort_order", SORT_ORDERS),
        "sort_target": get_enum(d, "sort_target", SORT_TARGETS),
        "serializable": get_bool(d, "serializable"),
        "keys_only": get_bool(d, "keys_only"),
        "count_only": get_bool(d, "count_only"),
        "min_mod_revision": get_int(d, "min_mod_revision"),
        "max_mod_revision": get_int(d, "max_mod_revision"),
        "min_create_revision": get_int(d, "min_create_revision"),
        "max_create_revision": get_int(d, "max_create_revision"),
    }


def decode_put(d: dict) -> dict:
    return {
        "key": get_bytes(d, "key"),
        "value": get_bytes(d, "value"),
        "lease": get_int(d, "lease"),
        "prev_kv": get_bool(d, "prev_kv"),
        "ignore_value": get_bool(d, "ignore_value"),
        "ignore_lease": get_bool(d, "ignore_lease"),
    }


def decode_delete(d: dict) -> dict:
    return {"key": get_bytes(d, "key"), "range_end": get_bytes(d, "range_end"), "prev_kv": get_bool(d, "prev_kv")}


_COMPARE_VALUE_FIELDS = {0: "version", 1: "create_revision", 2: "mod_revision", 3: "value", 4: "lease"}


def decode_compare(d: dict) -> dict:
    target = get_enum(d, "target", COMPARE_TARGETS)
    # The compared value is a proto oneof: only the field that matches the target counts; any
    # other (or none) leaves the target's value at its zero, as etcd's compareKV does.
    field = _COMPARE_VALUE_FIELDS.get(target)
    if target == 3:
        operand: bytes | int = get_bytes(d, "value") if field in d else b""
    else:
        operand = get_int(d, field) if field in d else 0
    return {
        "key": get_bytes(d, "key"),
        "range_end": get_bytes(d, "range_end"),
        "target": target,
        "result": get_enum(d, "result", COMPARE_RESULTS),
        "operand": operand,
    }


def decode_request_op(d: Any) -> tuple[str, dict]:
    if not isinstance(d, dict):
        raise bad_request(f"json: cannot unmarshal {go_json_type(d)} into Go value of type etcdserverpb.RequestOp")
    if "request_range" in d:
        return "range", decode_range(get_obj(d, "request_range"))
    if "request_put" in d:
        return "put", decode_put(get_obj(d, "request_put"))
    if "request_delete_range" in d:
        return "delete", decode_delete(get_obj(d, "request_delete_range"))
    if "request_txn" in d:
        return "txn", decode_txn(get_obj(d, "request_txn"))
    # An empty RequestOp is legal in etcd and does nothing.
    return "none", {}


def decode_txn(d: dict) -> dict:
    return {
        "compare": [decode_compare(c if isinstance(c, dict) else {}) for c in get_list(d, "compare")],
        "success": [decode_request_op(op) for op in get_list(d, "success")],
        "failure": [decode_request_op(op) for op in get_list(d, "failure")],
    }


# ---------------------------------------------------------------- response side

def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def kv_json(kv, keys_only: bool = False) -> dict:
    """mvccpb.KeyValue with zero fields omitted."""
    out: dict[str, Any] = {"key": b64(kv.key)}
    if kv.create_revision:
        out["create_revision"] = str(kv.create_revision)
    if kv.mod_revision:
        out["mod_revision"] = str(kv.mod_revision)
    if kv.version:
        out["version"] = str(kv.version)
    if kv.value and not keys_only:
        out["value"] = b64(kv.value)
    if kv.lease:
        out["lease"] = str(kv.lease)
    return out


def omit_zero(d: dict) -> dict:
    """Drop proto3 zero values from a flat response dict (nested dicts are left to their builder)."""
    return {k: v for k, v in d.items() if v not in (None, False, 0, "", "0", [], {}) or v is True}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
