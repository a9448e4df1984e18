"""Applies committed requests to the MVCC store: etcd's applierV3 (put, delete range, txn with
nested txns, compaction, leases).

`apply(store, kind, req)` is what every member runs for every log entry, in log order. It is
deterministic and total: a request that cannot be applied (an unknown lease, a compacted
revision inside a txn, ...) returns an `EtcdError` *value* and leaves the store untouched; it
never raises, because an exception inside a pysyncobj replicated method is retried forever and
wedges the cluster (pysyncobj/syncobj.py, `__applyLogEntries`: the last-applied index does not
move past an entry that raised, so it is applied again on every tick and nothing after it is).
"""
from __future__ import annotations

import logging
from typing import Any

from . import errors
from .errors import EtcdError
from .mvcc import KV, Lease, MVCCStore, WriteTxn

log = logging.getLogger("etcd.apply")

MAX_LEASE_TTL = 9_000_000_000


def apply(store: MVCCStore, kind: str, req: Any) -> Any:
    handler = _HANDLERS.get(kind)
    if handler is None:
        return EtcdError(f"etcdserver: unknown request kind {kind!r}", errors.INTERNAL)
    try:
        return handler(store, req)
    except EtcdError as e:
        return e
    except Exception as e:  # a bug must not wedge Raft: report it to the client, keep applying
        log.exception("apply failed", extra={"kind": kind})
        return EtcdError(f"etcdserver: internal error applying {kind}: {e}", errors.INTERNAL)


# ---------------------------------------------------------------- put / delete

def _put(store: MVCCStore, p: dict) -> dict:
    if p["lease"] and p["lease"] not in store.leases:
        raise errors.LEASE_NOT_FOUND
    txn = WriteTxn(store)
    try:
        resp = _txn_put(txn, p)
    except BaseException:
        txn.rollback()
        raise
    txn.commit()
    return resp


def _txn_put(txn: WriteTxn, p: dict) -> dict:
    prev: KV | None = None
    if p["ignore_value"] or p["ignore_lease"] or p["prev_kv"]:
        prev = txn.s.latest(p["key"])
    if (p["ignore_value"] or p["ignore_lease"]) and prev is None:
        raise errors.KEY_NOT_FOUND
    value = prev.value if p["ignore_value"] else p["value"]
    lease = prev.lease if p["ignore_lease"] else p["lease"]
    rev = txn.put(p["key"], value, lease)
    return {"rev": rev, "prev_kv": prev if p["prev_kv"] else None}


def _delete(store: MVCCStore, d: dict) -> dict:
    txn = WriteTxn(store)
    resp = _txn_delete(txn, d)
    txn.commit()
    return resp


def _txn_delete(txn: WriteTxn, d: dict) -> dict:
    prev_kvs: list[KV] = []
    if d["prev_kv"]:
        prev_kvs = txn.s.range_at(d["key"], d["range_end"], 0, cur_rev=txn.rev).kvs
    deleted, rev = txn.delete_range(d["key"], d["range_end"])
    return {"rev": rev, "deleted": deleted, "prev_kvs": prev_kvs}


# ---------------------------------------------------------------- txn

def _compare(store: MVCCStore, c: dict) -> bool:
    try:
        kvs = store.range_at(c["key"], c["range_end"], 0).kvs
    except EtcdError:
        return False
    if not kvs:
        if c["target"] == 3:  # VALUE on a missing key is always false
            return False
        kvs = [KV(c["key"], 0, 0, 0, b"", 0)]
    return all(_compare_kv(c, kv) for kv in kvs)


_TARGET_FIELD = {0: "version", 1: "create_revision", 2: "mod_revision", 3: "value", 4: "lease"}


def _compare_kv(c: dict, kv: KV) -> bool:
    actual = getattr(kv, _TARGET_FIELD.get(c["target"], "version"))
    operand = c["operand"]
    result = (actual > operand) - (actual < operand)
    r = c["result"]
    if r == 0:
        return result == 0
    if r == 3:
        return result != 0
    if r == 1:
        return result > 0
    if r == 2:
        return result < 0
    return True


class _Path:
    """The branch each (nested) txn takes, decided before any op runs: etcd evaluates every
    compare, nested ones included, against the state as it was when the txn started."""

    def __init__(self, store: MVCCStore, t: dict) -> None:
        self.ok = all(_compare(store, c) for c in t["compare"])
        self.ops = t["success"] if self.ok else t["failure"]
        self.children = [_Path(store, req) for kind, req in self.ops if kind == "txn"]

    def walk(self):
        """(kind, req) of every op on the taken path, nested txns flattened."""
        it = iter(self.children)
        for kind, req in self.ops:
            if kind == "txn":
                yield from next(it).walk()
            else:
                yield kind, req


def _is_readonly(t: dict) -> bool:
    return all(kind == "range" for kind, _ in t["success"] + t["failure"])


def _check_put(store: MVCCStore, p: dict) -> None:
    if (p["ignore_value"] or p["ignore_lease"]) and store.latest(p["key"]) is None:
        raise errors.KEY_NOT_FOUND
    if p["lease"] and p["lease"] not in store.leases:
        raise errors.LEASE_NOT_FOUND


def _check_range(store: MVCCStore, r: dict) -> None:
    if r["revision"] == 0:
        return
    if r["revision"] > store.rev:
        raise errors.FUTURE_REV
    if r["revision"] < store.compact_rev:
        raise errors.COMPACTED


def _txn(store: MVCCStore, t: dict) -> dict:
    path = _Path(store, t)
    if not _is_readonly(t):
        for kind, req in path.walk():
            if kind == "put":
                _check_put(store, req)
    for kind, req in path.walk():
        if kind == "range":
            _check_range(store, req)
    txn = WriteTxn(store)
    try:
        resp = _run_path(txn, path)
    except BaseException:
        txn.rollback()
        raise
    rev = txn.rev
    txn.commit()
    resp["rev"] = rev
    return resp


def _run_path(txn: WriteTxn, path: _Path) -> dict:
    responses: list[tuple[str, dict]] = []
    children = iter(path.children)
    for kind, req in path.ops:
        if kind == "range":
            responses.append(("range", txn.s.range(req, cur_rev=txn.rev)))
        elif kind == "put":
            responses.append(("put", _txn_put(txn, req)))
        elif kind == "delete":
            responses.append(("delete", _txn_delete(txn, req)))
        elif kind == "txn":
            responses.append(("txn", _run_path(txn, next(children))))
        else:
            responses.append(("none", {}))
    return {"succeeded": path.ok, "responses": responses}


# ---------------------------------------------------------------- compaction

def _compact(store: MVCCStore, rev: int) -> dict:
    store.compact(rev)
    return {"rev": store.rev}


# ---------------------------------------------------------------- leases

def _lease_grant(store: MVCCStore, req: tuple[int, int, float]) -> dict:
    lease_id, ttl, now, prefix = req
    if lease_id == 0:
        # Chosen here, in log order, so auto IDs increase in grant order as etcd's do (clients
        # compare lease IDs in txns) and are identical on every member.
        while lease_id == 0 or lease_id in store.leases:
            store.lease_seq += 1
            lease_id = (prefix << 40 | store.lease_seq) & (2**63 - 1)
    elif lease_id in store.leases:
        raise errors.LEASE_EXISTS
    store.leases[lease_id] = Lease(lease_id, ttl, now + ttl)
    return {"id": lease_id, "ttl": ttl, "rev": store.rev}


def _revoke(store: MVCCStore, lease: Lease) -> None:
    """Delete every key of the lease in one revision (one watch message), in key order."""
    txn = WriteTxn(store)
    try:
        for key in sorted(lease.keys):
            txn.delete_range(key, b"")
    except BaseException:
        txn.rollback()
        raise
    txn.commit()
    store.leases.pop(lease.id, None)


def _lease_revoke(store: MVCCStore, lease_id: int) -> dict:
    lease = store.leases.get(lease_id)
    if lease is None:
        raise errors.LEASE_NOT_FOUND
    _revoke(store, lease)
    return {"rev": store.rev}


def _lease_renew(store: MVCCStore, req: tuple[int, float]) -> dict:
    lease_id, now = req
    lease = store.leases.get(lease_id)
    if lease is None:
        return {"id": lease_id, "ttl": 0, "rev": store.rev}
    lease.expiry = now + lease.ttl
    return {"id": lease_id, "ttl": lease.ttl, "rev": store.rev}


def _lease_expire(store: MVCCStore, req: tuple[int, float]) -> dict:
    """Revoke a lease the leader saw expire, unless a renewal committed in between moved it."""
    lease_id, now = req
    lease = store.leases.get(lease_id)
    if lease is not None and lease.expiry <= now:
        _revoke(store, lease)
    return {"rev": store.rev}


def _publish(store: MVCCStore, req: tuple[str, list[str]]) -> dict:
    """A member announces its client URLs, as etcd members publish their attributes through
    Raft, so `member list` shows every member's clientURLs on every member."""
    name, urls = req
    store.client_urls[name] = list(urls)
    return {"rev": store.rev}


def _noop(store: MVCCStore, req: Any) -> dict:
    """A read barrier: once applied locally, local state includes every write committed before."""
    return {"rev": store.rev}


_HANDLERS = {
    "put": _put,
    "delete": _delete,
    "txn": _txn,
    "compact": _compact,
    "lease_grant": _lease_grant,
    "lease_revoke": _lease_revoke,
    "lease_renew": _lease_renew,
    "lease_expire": _lease_expire,
    "publish": _publish,
    "noop": _noop,
}
