"""The revisioned key-value store: etcd's MVCC semantics as a deterministic state machine.

Modelled on etcd's `server/storage/mvcc`: one global revision that every real change bumps by one,
per key a chain of versions (`create_revision`, `mod_revision`, `version`, tombstones for deletes),
reads at any retained revision, compaction that drops history, and leases that own keys.

Everything here runs inside the Raft apply path (see statemachine.py), so it must be
deterministic (no clock, no randomness: times arrive as arguments from the proposer) and must
never leave a half-applied change: writes go through `WriteTxn`, which keeps an undo log and rolls
back on any error, so one bad request can never wedge or diverge the members.

Besides the key index the store keeps the event log (the changes of every revision since the last
compaction), which is what watches are served from on every member (watch.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sortedcontainers import SortedDict

from . import errors
from .errors import EtcdError


class KV(NamedTuple):
    """mvccpb.KeyValue. A tombstone (the kv of a DELETE event) has version 0 and only key and
    mod_revision set, exactly as etcd reports it in watch events."""

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    value: bytes
    lease: int

    @property
    def is_tombstone(self) -> bool:
        return self.version == 0


PUT, DELETE = 0, 1


class Event(NamedTuple):
    type: int
    kv: KV
    prev_kv: KV | None


@dataclass
class Lease:
    id: int
    ttl: int  # granted TTL, seconds
    expiry: float  # wall-clock time chosen by the proposer, never read from a clock here
    keys: set[bytes] = field(default_factory=set)


NO_END = None  # a single-key range


def normalize_end(range_end: bytes) -> bytes | None | str:
    """etcd's mkGteRange: "" = single key, "\\0" = every key >= key, else [key, range_end)."""
    if not range_end:
        return NO_END
    if range_end == b"\x00":
        return "inf"
    return range_end


def in_range(k: bytes, key: bytes, end) -> bool:
    if end is NO_END:
        return k == key
    if end == "inf":
        return k >= key
    return key <= k < end


class RangeResult(NamedTuple):
    kvs: list[KV]
    count: int
    rev: int  # the store revision the read was served at (etcd's rr.Rev: the current revision)


class MVCCStore:
    """The state that Raft replicates: key index, event log, leases, revision counters."""

    def __init__(self) -> None:
        self.rev = 1  # a fresh store is at revision 1; the first write makes 2
        self.compact_rev = -1  # etcd's compactMainRev before any compaction
        self.index: SortedDict = SortedDict()  # key -> list[KV], oldest first, tombstones included
        self.log_base = 2  # revision of log[0]
        self.log: list[list[Event]] = []  # events of each revision since the last compaction
        self.leases: dict[int, Lease] = {}
        self.lease_seq = 0  # for lease IDs assigned at apply time
        self.applied_index = 0  # bumped per applied batch; lets readers detect a snapshot install
        self.client_urls: dict[str, list[str]] = {}  # member name -> client URLs it published

    # ------------------------------------------------------------------ reads

    def latest(self, key: bytes) -> KV | None:
        chain = self.index.get(key)
        if not chain:
            return None
        kv = chain[-1]
        return None if kv.is_tombstone else kv

    @staticmethod
    def _at(chain: list[KV], rev: int) -> KV | None:
        for kv in reversed(chain):
            if kv.mod_revision <= rev:
                return None if kv.is_tombstone else kv
        return None

    def _keys(self, key: bytes, end):
        if end is NO_END:
            return [key] if key in self.index else []
        if end == "inf":
            return self.index.irange(minimum=key)
        if end <= key:
            return []
        return self.index.irange(minimum=key, maximum=end, inclusive=(True, False))

    def range_at(self, key: bytes, range_end: bytes, rev: int, limit: int = 0, count_only: bool = False,
                 cur_rev: int | None = None) -> RangeResult:
        """mvcc rangeKeys: kvs live at `rev` in [key, range_end) in key order, and their total count."""
        cur = self.rev if cur_rev is None else cur_rev
        if rev > cur:
            raise errors.FUTURE_REV
        if rev <= 0:
            rev = cur
        if rev < self.compact_rev:
            raise errors.COMPACTED
        end = normalize_end(range_end)
        kvs: list[KV] = []
        count = 0
        index = self.index
        at_head = rev == cur  # the newest version of each key is the answer
        for k in self._keys(key, end):
            chain = index[k]
            if at_head:
                kv = chain[-1]
                if kv.is_tombstone:
                    continue
            else:
                kv = self._at(chain, rev)
                if kv is None:
                    continue
            count += 1
            if not count_only and (limit <= 0 or len(kvs) < limit):
                kvs.append(kv)
        return RangeResult(kvs, count, cur)

    def range(self, req: dict, cur_rev: int | None = None) -> dict:
        """RangeRequest -> response fields, as etcd's applier Range (filters, sort, limit, more)."""
        limit = req["limit"]
        sort_order, sort_target = req["sort_order"], req["sort_target"]
        filtered = req["min_mod_revision"] or req["max_mod_revision"] or req["min_create_revision"] or \
            req["max_create_revision"]
        fetch = limit
        if sort_order != 0 or filtered:
            fetch = 0  # fetch everything; sort and truncate afterwards
        elif fetch > 0:
            fetch += 1  # one extra for the `more` flag
        rr = self.range_at(req["key"], req["range_end"], req["revision"], fetch, req["count_only"], cur_rev)
        kvs = rr.kvs
        if req["max_mod_revision"]:
            kvs = [kv for kv in kvs if not kv.mod_revision > req["max_mod_revision"]]
        if req["min_mod_revision"]:
            kvs = [kv for kv in kvs if not kv.mod_revision < req["min_mod_revision"]]
        if req["max_create_revision"]:
            kvs = [kv for kv in kvs if not kv.create_revision > req["max_create_revision"]]
        if req["min_create_revision"]:
            kvs = [kv for kv in kvs if not kv.create_revision < req["min_create_revision"]]
        if sort_target != 0 and sort_order == 0:
            sort_order = 1  # a non-KEY target sorts ascending by default
        if sort_order != 0:
            keyfn = _SORT_KEYS[sort_target]
            kvs = sorted(kvs, key=keyfn, reverse=(sort_order == 2))
        more = False
        if limit > 0 and len(kvs) > limit:
            kvs = kvs[:limit]
            more = True
        return {"rev": rr.rev, "kvs": kvs, "more": more, "count": rr.count, "keys_only": req["keys_only"]}

    # ------------------------------------------------------------------ compaction

    def compact(self, rev: int) -> None:
        """Drop history before `rev`, keeping for each key the newest version at or before `rev`
        unless it is a tombstone (etcd's keyIndex.compact). Watchers that still need an event below
        `rev` get cancelled with compact_revision (watch.py)."""
        if rev <= self.compact_rev:
            raise errors.COMPACTED
        if rev > self.rev:
            raise errors.FUTURE_REV
        self.compact_rev = rev
        empty = []
        for k, chain in self.index.items():
            if chain[0].mod_revision > rev:
                continue
            # index of the newest version at or before rev
            i = len(chain) - 1
            while chain[i].mod_revision > rev:
                i -= 1
            keep_from = i + 1 if chain[i].is_tombstone else i
            if keep_from:
                del chain[:keep_from]
            if not chain:
                empty.append(k)
        for k in empty:
            del self.index[k]
        drop = rev - self.log_base
        if drop > 0:
            del self.log[:drop]
            self.log_base += drop
        # A delete at exactly the compact revision is gone from etcd's backend, so a watch
        # starting there does not see it; puts at that revision survive.
        if self.log and self.log_base == rev:
            self.log[0] = [ev for ev in self.log[0] if ev.type == PUT]

    # ------------------------------------------------------------------ events

    def events_since(self, rev: int) -> list[tuple[int, list[Event]]]:
        """(revision, events) for every revision >= rev still in the log."""
        start = max(rev, self.log_base) - self.log_base
        return [(self.log_base + i, self.log[i]) for i in range(start, len(self.log))]


_SORT_KEYS = {
    0: lambda kv: kv.key,
    1: lambda kv: kv.version,
    2: lambda kv: kv.create_revision,
    3: lambda kv: kv.mod_revision,
    4: lambda kv: kv.value,
}


class WriteTxn:
    """All writes of one request, at one revision, with an undo log.

    Every write of the txn gets revision `begin + 1`; the store's revision moves only at
    `commit()`, and only if something changed. `rollback()` restores the exact prior state, so a
    request that fails halfway (an `ignore_value` put on a key this txn deleted, say) leaves
    nothing behind.
    """

    def __init__(self, store: MVCCStore) -> None:
        self.s = store
        self.begin = store.rev
        self.events: list[Event] = []
        self._undo: list[tuple] = []

    @property
    def rev(self) -> int:
        """The revision a read inside this txn sees (etcd: beginRev, +1 once something changed)."""
        return self.begin + 1 if self.events else self.begin

    def _before(self, key: bytes) -> KV | None:
        """The key as it was before this txn: what a watch event's prev_kv shows (etcd reads it at
        revision - 1), even when this txn already wrote the key once."""
        chain = self.s.index.get(key)
        return self.s._at(chain, self.begin) if chain else None

    def _append(self, kv: KV) -> None:
        chain = self.s.index.get(kv.key)
        if chain is None:
            chain = self.s.index[kv.key] = []
            self._undo.append(("newkey", kv.key))
        else:
            self._undo.append(("append", kv.key))
        chain.append(kv)

    def _attach(self, lease_id: int, key: bytes) -> None:
        lease = self.s.leases.get(lease_id)
        if lease is not None and key not in lease.keys:
            lease.keys.add(key)
            self._undo.append(("attach", lease_id, key))

    def _detach(self, lease_id: int, key: bytes) -> None:
        lease = self.s.leases.get(lease_id)
        if lease is not None and key in lease.keys:
            lease.keys.discard(key)
            self._undo.append(("detach", lease_id, key))

    def put(self, key: bytes, value: bytes, lease: int) -> int:
        rev = self.begin + 1
        prev = self.s.latest(key)
        if prev is not None:
            kv = KV(key, prev.create_revision, rev, prev.version + 1, value, lease)
            if prev.lease and prev.lease != lease:
                self._detach(prev.lease, key)
        else:
            kv = KV(key, rev, rev, 1, value, lease)
        chain = self.s.index.get(key)
        # etcd reports no prev_kv for a put that follows a delete of the same key in one txn.
        recreated = bool(chain) and chain[-1].is_tombstone and chain[-1].mod_revision == rev
        before = None if recreated else self._before(key)
        self._append(kv)
        if lease:
            self._attach(lease, key)
        self.events.append(Event(PUT, kv, before))
        return rev

    def delete_range(self, key: bytes, range_end: bytes) -> tuple[int, int]:
        end = normalize_end(range_end)
        live = [k for k in self.s._keys(key, end) if not self.s.index[k][-1].is_tombstone]
        if not live:
            return 0, self.rev
        rev = self.begin + 1
        for k in live:
            prev = self.s.index[k][-1]
            tomb = KV(k, 0, rev, 0, b"", 0)
            before = self._before(k)
            self._append(tomb)
            if prev.lease:
                self._detach(prev.lease, k)
            self.events.append(Event(DELETE, tomb, before))
        return len(live), rev

    def commit(self) -> int:
        if self.events:
            self.s.rev = self.begin + 1
            self.s.log.append(self.events)
        self._undo = []
        return self.s.rev

    def rollback(self) -> None:
        for entry in reversed(self._undo):
            kind = entry[0]
            if kind == "newkey":
                del self.s.index[entry[1]]
            elif kind == "append":
                self.s.index[entry[1]].pop()
            elif kind == "attach":
                lease = self.s.leases.get(entry[1])
                if lease is not None:
                    lease.keys.discard(entry[2])
            elif kind == "detach":
                lease = self.s.leases.get(entry[1])
                if lease is not None:
                    lease.keys.add(entry[2])
        self._undo = []
        self.events = []


def is_error(x: object) -> bool:
    return isinstance(x, EtcdError)
