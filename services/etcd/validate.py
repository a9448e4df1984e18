"""Request checks made before anything is proposed to Raft (etcd's v3rpc/key.go checks).

Rejecting a bad request here, on the member that received it, keeps it out of the replicated log
entirely: an invalid entry in the log would be applied by every member, so everything that can
be decided without the store's state is decided here.
"""
from __future__ import annotations

from . import errors

MAX_TXN_OPS = 128


def check_range(r: dict) -> None:
    if not r["key"]:
        raise errors.EMPTY_KEY
    if r["sort_order"] not in (0, 1, 2) or r["sort_target"] not in (0, 1, 2, 3, 4):
        raise errors.INVALID_SORT_OPTION


def check_put(p: dict) -> None:
    if not p["key"]:
        raise errors.EMPTY_KEY
    if p["ignore_value"] and p["value"]:
        raise errors.VALUE_PROVIDED
    if p["ignore_lease"] and p["lease"]:
        raise errors.LEASE_PROVIDED


def check_delete(d: dict) -> None:
    if not d["key"]:
        raise errors.EMPTY_KEY


def check_op(kind: str, req: dict, max_ops: int) -> None:
    if kind == "range":
        check_range(req)
    elif kind == "put":
        check_put(req)
    elif kind == "delete":
        check_delete(req)
    elif kind == "txn":
        check_txn(req, max_ops)


def check_txn(t: dict, max_ops: int = MAX_TXN_OPS) -> None:
    opc = max(len(t["compare"]), len(t["success"]), len(t["failure"]))
    if opc > max_ops:
        raise errors.TOO_MANY_OPS
    for c in t["compare"]:
        if not c["key"]:
            raise errors.EMPTY_KEY
    for kind, req in t["success"] + t["failure"]:
        check_op(kind, req, max_ops - opc)


# ---------------------------------------------------------------- duplicate keys (checkIntervals)

def _ivl(key: bytes, range_end: bytes) -> tuple[bytes, bytes | None]:
    """A delete's interval as etcd's adt builds it: a point [k, k+\\0), or [key, range_end) where
    an empty end means +infinity. etcd 3.4 builds `[key, "\\0")` for from-key deletes, which is an
    empty interval; we keep that so the same txns are accepted (etcd 3.4's pkg/adt)."""
    if range_end:
        return key, range_end
    return key, key + b"\x00"


def _intersects_point(ivls: list[tuple[bytes, bytes | None]], k: bytes) -> bool:
    for begin, end in ivls:
        if begin <= k and (end is None or k < end):
            return True
    return False


def check_intervals(ops: list[tuple[str, dict]]) -> tuple[set[bytes], list]:
    dels = [_ivl(req["key"], req["range_end"]) for kind, req in ops if kind == "delete"]
    puts: set[bytes] = set()
    for kind, req in ops:
        if kind != "txn":
            continue
        puts_then, dels_then = check_intervals(req["success"])
        puts_else, dels_else = check_intervals(req["failure"])
        for k in puts_then:
            if k in puts or _intersects_point(dels, k):
                raise errors.DUPLICATE_KEY
            puts.add(k)
        for k in puts_else:
            if k in puts and k not in puts_then:
                raise errors.DUPLICATE_KEY
            if _intersects_point(dels, k):
                raise errors.DUPLICATE_KEY
            puts.add(k)
        dels.extend(dels_then)
        dels.extend(dels_else)
    for kind, req in ops:
        if kind != "put":
            continue
        k = req["key"]
        if k in puts or _intersects_point(dels, k):
            raise errors.DUPLICATE_KEY
        puts.add(k)
    return puts, dels


def check_txn_request(t: dict, max_ops: int = MAX_TXN_OPS) -> None:
    check_txn(t, max_ops)
    check_intervals(t["success"])
    check_intervals(t["failure"])
