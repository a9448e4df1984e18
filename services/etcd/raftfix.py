"""Raft's AppendEntries rules carried over pysyncobj 0.3.17, which gets two of them wrong.

Both live in pysyncobj/syncobj.py, `SyncObj.__onMessageReceived`:

- Follower, the 'append_entries' branch: when the entry at prevLogIdx matches, pysyncobj deletes
  *every* entry after prevLogIdx whenever its log is longer (`self.__deleteEntriesFrom(prevLogIdx + 1)`),
  then appends the message's entries. Raft (Ongaro & Ousterhout, "In Search of an Understandable
  Consensus Algorithm", fig. 2, AppendEntries receiver rule 3) deletes only from the first entry that
  *conflicts* (same index, different term) and keeps entries it already holds. With a repeated or
  reordered message, pysyncobj cuts entries it has acknowledged and that may be committed and
  applied (it logs CRITICAL "truncating already-applied log entries ... state machine may have
  diverged"); a leader change while the follower is short can lose a committed write, and a crash
  between the journal's truncation and re-append loses it on disk.
- Leader, the 'next_node_idx' branch: a successful reply sets `__raftNextIndex[node]` to the reply's
  index, which moves it back behind entries already sent and still in flight (the leader advances
  nextIndex optimistically in `__sendAppendEntries`). The next heartbeat then re-sends them, and the
  follower's truncation above fires even under one stable leader with no fault at all.

`RaftLogFix` overrides the one handler both live in (pysyncobj binds it by its mangled name,
`self._SyncObj__onMessageReceived`, in `SyncObj.__init__`) and rewrites the two message kinds before
pysyncobj's own code sees them, so everything else (terms, elections, commit, snapshots) stays
upstream's:
- an 'append_entries' whose entries the follower already holds is trimmed to the first entry it
  lacks or that conflicts, so pysyncobj's deletion starts exactly at the conflict (rule 3) or deletes
  nothing; if the follower holds all of them and more, the message is applied as a heartbeat whose
  commit index is capped at the last entry the message vouches for (rule 5) and answered as Raft
  answers it, with the index after that entry;
- a successful 'next_node_idx' may advance nextIndex but never moves it back (failure replies, the
  real back-off, are upstream's).
"""
from __future__ import annotations

from typing import Any

import pysyncobj.pickle as pysyncobj_pickle
from pysyncobj import SyncObj

# A log entry in pysyncobj: (command bytes, index, term).
Entry = tuple[bytes, int, int]


class RaftLogFix(SyncObj):
    """SyncObj with Raft's AppendEntries receiver rule 3 and a monotonic leader nextIndex."""

    def _SyncObj__onMessageReceived(self, node: Any, message: Any) -> None:  # noqa: N802 (pysyncobj's mangled name)
        if isinstance(message, dict):
            kind = message.get("type")
            if kind == "append_entries" and "prevLogIdx" in message and message["term"] >= self._getTerm():
                message = self._trim_known_entries(node, message)
                if message is None:
                    return
            elif kind == "next_node_idx" and message.get("success") and not message.get("reset"):
                self._advance_next_index(node, message)
                return
        super()._SyncObj__onMessageReceived(node, message)

    # ------------------------------------------------------------------ follower

    def _log_entry(self, index: int) -> Entry | None:
        log = self._SyncObj__raftLog
        first = log[0][1]
        if index < first or index > log[-1][1]:
            return None
        return log[index - first]

    def _trim_known_entries(self, node: Any, message: dict) -> dict | None:
        """The message as pysyncobj should see it, or None once it has been handled here."""
        transmission = message.get("transmission")
        if transmission in ("start", "process"):
            return message  # a chunk of one large entry: nothing is appended or deleted yet
        if transmission == "finish":
            # The last chunk: the whole entry, as pysyncobj would rebuild it, in a plain message.
            data = self._SyncObj__recvTransmission + message["data"]
            self._SyncObj__recvTransmission = ""
            message = {k: v for k, v in message.items() if k not in ("transmission", "data")}
            message["entries"] = [pysyncobj_pickle.loads(data)]
        prev_idx, prev_term = message["prevLogIdx"], message["prevLogTerm"]
        prev = self._log_entry(prev_idx)
        if prev is None or prev[2] != prev_term:
            return message  # a mismatch: pysyncobj rejects it and the leader backs off
        entries: list[Entry] = list(message.get("entries", []))
        known = 0
        for entry in entries:
            held = self._log_entry(entry[1])
            if held is None or held[2] != entry[2]:
                break
            known += 1
        if known:
            prev_idx, prev_term = entries[known - 1][1], entries[known - 1][2]
            entries = entries[known:]
        last_index = self._SyncObj__raftLog[-1][1]
        if entries or last_index == prev_idx:
            # From the first entry it lacks or that conflicts: pysyncobj deletes exactly the
            # conflicting suffix, if any (rule 3), and appends the rest (rule 4).
            return {**message, "prevLogIdx": prev_idx, "prevLogTerm": prev_term, "entries": entries}
        # Every entry is already here and the log goes on past them: keep it all. Apply the
        # message as a heartbeat (leader, term, election timer) with the commit index capped at
        # the last entry this message vouches for (rule 5), and answer as Raft does.
        heartbeat = {"type": "append_entries", "term": message["term"],
                     "commit_index": min(message["commit_index"], prev_idx)}
        super()._SyncObj__onMessageReceived(node, heartbeat)
        self._SyncObj__sendNextNodeIdx(node, nextNodeIdx=prev_idx + 1, success=True)
        return None

    # ------------------------------------------------------------------ leader

    def _advance_next_index(self, node: Any, message: dict) -> None:
        """pysyncobj's handling of a successful reply, except that nextIndex never moves back."""
        next_index = self._SyncObj__raftNextIndex
        before = next_index.get(node)
        super()._SyncObj__onMessageReceived(node, message)
        if before is not None and self._isLeader() and next_index.get(node, before) < before:
            next_index[node] = before
