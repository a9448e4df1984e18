"""The replicated state machine: the MVCC store inside a pysyncobj consumer.

Exactly one replicated method exists, `apply_batch`, and it must stay the only one: pysyncobj
numbers replicated methods by sorted name, so adding another would silently remap the journal
(pysyncobj/syncobj.py, `__init__`'s sorted `_idToMethod`). New request kinds are new *data* in the batch, handled by applier.py.

Threads: by default pysyncobj runs on the event loop (looppoller.py) and everything happens on one
thread; with `--raft-tick thread` it applies entries on its own tick thread while the HTTP server
reads on the loop, which is why every access to the store goes through `lock`. After each applied
batch the watch hub is told the new revision (it hands the work to the event loop and never blocks).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from pysyncobj import SyncObjConsumer, replicated

from . import applier
from .mvcc import MVCCStore

log = logging.getLogger("etcd.statemachine")


class KVStateMachine(SyncObjConsumer):
    def __init__(self) -> None:
        # Attributes set before SyncObjConsumer.__init__ are local (not snapshotted):
        # pysyncobj serializes only what is added afterwards.
        self.lock = threading.RLock()
        self.on_applied: Callable[[int], None] | None = None
        self.on_restored: Callable[[], None] | None = None
        super().__init__()
        # --- replicated, snapshotted state
        self.store = MVCCStore()

    @replicated
    def apply_batch(self, batch: list[tuple[str, Any]]) -> list[Any]:
        """Apply requests in order; one result (response dict or EtcdError) per request."""
        results = []
        with self.lock:
            for kind, req in batch:
                results.append(applier.apply(self.store, kind, req))
            self.store.applied_index += 1
            rev = self.store.rev
        hook = self.on_applied
        if hook is not None:
            try:
                hook(rev)
            except Exception:  # a raising callback would make pysyncobj re-apply the entry
                log.exception("on_applied hook failed")
        return results

    def _deserialize(self, data: dict) -> None:
        """A snapshot replaced the whole state (a lagging member caught up, or a restart)."""
        with self.lock:
            super()._deserialize(data)
        hook = self.on_restored
        if hook is not None:
            try:
                hook()
            except Exception:
                log.exception("on_restored hook failed")
