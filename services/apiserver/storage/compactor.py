"""Periodic store compaction, coordinated between apiservers as kube-apiserver does it.

Without compaction the store keeps every revision forever. Every interval, each apiserver tries
a txn on `compact_rev_key` guarded by the key's version it saw last time; only the apiserver
whose txn succeeds compacts, and it compacts to the revision it recorded one interval earlier,
so watchers always have at least one interval of history to resume from.
"""
from __future__ import annotations

import asyncio
import logging

from .client import Compare, EtcdClient, StoreError, op_get, op_put

log = logging.getLogger("apiserver.compactor")
COMPACT_REV_KEY = "compact_rev_key"


async def compact_once(client: EtcdClient, seen_version: int, rev: int) -> tuple[int, int]:
    """One round: returns (the key version now, the current revision) for the next round."""
    res = await client.txn([Compare(COMPACT_REV_KEY, "VERSION", seen_version)],
                           [op_put(COMPACT_REV_KEY, str(rev).encode())], [op_get(COMPACT_REV_KEY)])
    if not res.succeeded:
        kvs = ((res.responses[0].get("response_range") or {}).get("kvs") or []) if res.responses else []
        return (int(kvs[0].get("version", 0)) if kvs else 0), res.revision
    if rev:
        try:
            await client.compact(rev)
            log.info("compacted the store", extra={"revision": rev})
        except StoreError as e:
            if not e.compacted:  # someone already compacted further: nothing to do
                raise
    return seen_version + 1, res.revision


async def run(client: EtcdClient, interval: float) -> None:
    version, rev = 0, 0
    while True:
        await asyncio.sleep(interval)
        try:
            version, rev = await compact_once(client, version, rev)
        except StoreError as e:
            log.warning("compaction round failed", extra={"error": str(e)})
