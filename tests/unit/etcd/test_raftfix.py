"""raftfix.RaftLogFix against pysyncobj 0.3.17, fed the exact message orders that make upstream
truncate acknowledged (and applied) entries; no network, no threads: a transport that records what
the member sends, and ticks driven by the test."""
from __future__ import annotations

import logging
import time

import pytest
from pysyncobj import SyncObj, SyncObjConf, replicated
from pysyncobj.transport import Transport

from kubeling.services.etcd.raftfix import RaftLogFix

NO_OP = b"\x01"  # pysyncobj's _COMMAND_TYPE.NO_OP: applies to nothing
SELF, PEER = "127.0.0.1:1", "127.0.0.1:2"


class RecordingTransport(Transport):
    """Delivers nothing; keeps what the member sends so the test can read its answers."""

    def __init__(self, syncObj, selfNode, otherNodes):  # noqa: N803 (pysyncobj's signature)
        super().__init__(syncObj, selfNode, otherNodes)
        self.sent: list[tuple[object, dict]] = []

    def send(self, node, message):
        self.sent.append((node, message))
        return True

    def deliver(self, node, message) -> None:
        self._onMessageReceived(node, message)

    def connect(self, node) -> None:
        self._onNodeConnected(node)


def member(cls: type[SyncObj]) -> SyncObj:
    conf = SyncObjConf(autoTick=False, appendEntriesUseBatch=False, appendEntriesPeriod=0.005,
                       raftMinTimeout=0.02, raftMaxTimeout=0.03, leaderFallbackTimeout=60,
                       dynamicMembershipChange=False)
    return cls(SELF, [PEER], conf, transportClass=RecordingTransport)


def transport(m: SyncObj) -> RecordingTransport:
    return m._SyncObj__transport


def peer(m: SyncObj):
    (node,) = m.otherNodes
    return node


def log_of(m: SyncObj) -> list[tuple[int, int]]:
    return [(idx, term) for _, idx, term in m._SyncObj__raftLog]


def append(term: int, prev: tuple[int, int], entries: list[tuple[int, int]], commit: int) -> dict:
    return {"type": "append_entries", "term": term, "commit_index": commit,
            "prevLogIdx": prev[0], "prevLogTerm": prev[1],
            "entries": [(NO_OP, idx, t) for idx, t in entries]}


def replies(m: SyncObj) -> list[dict]:
    return [msg for _, msg in transport(m).sent if msg["type"] == "next_node_idx"]


def drive_overlapping_appends(m: SyncObj) -> None:
    """A leader of term 1 replicating entries 2..4 to this follower, in the order pysyncobj's own
    leader produces under steady writes: e3 goes out, the reply to e2 moves the leader's
    nextIndex back to 3 while e3 is in flight, so e3 is sent again with e4; then a re-sent e3
    alone (an older copy, or a size-limited batch) arrives after the follower has e4."""
    leader, t = peer(m), transport(m)
    t.deliver(leader, append(1, (1, 0), [(2, 1)], commit=1))
    t.deliver(leader, append(1, (2, 1), [(3, 1)], commit=3))  # e3 committed with the other follower
    m.doTick(0.0)  # applies up to 3
    assert m.raftLastApplied == 3
    t.deliver(leader, append(1, (2, 1), [(3, 1), (4, 1)], commit=3))
    t.deliver(leader, append(1, (2, 1), [(3, 1)], commit=4))


def test_a_follower_keeps_entries_it_already_holds(caplog):
    m = member(RaftLogFix)
    try:
        with caplog.at_level(logging.WARNING, logger="pysyncobj"):
            drive_overlapping_appends(m)
        assert log_of(m) == [(1, 0), (2, 1), (3, 1), (4, 1)]
        assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]
        # Raft's answers: success, with the index after the last entry each message vouched for
        assert [(r["success"], r["next_node_idx"]) for r in replies(m)] == [(True, 3), (True, 4), (True, 5), (True, 4)]
        # rule 5: the last message vouched for entries up to 3 only, so 4 is not committed on its word
        assert m.getStatus()["commit_idx"] == 3
        m.doTick(0.0)
        assert m.raftLastApplied == 3
    finally:
        m.destroy()


def test_upstream_pysyncobj_still_truncates_them(caplog):
    """The same messages on unpatched pysyncobj: applied entries are cut (and e4, acknowledged with
    next index 5, is gone). If this fails, upstream fixed it and raftfix.py can go."""
    m = member(SyncObj)
    try:
        with caplog.at_level(logging.WARNING, logger="pysyncobj"):
            drive_overlapping_appends(m)
        assert log_of(m) == [(1, 0), (2, 1), (3, 1)]
        assert any("truncating already-applied log entries" in r.getMessage() for r in caplog.records)
    finally:
        m.destroy()


def test_a_conflicting_suffix_is_replaced_from_the_first_conflict():
    m = member(RaftLogFix)
    try:
        old, new, t = peer(m), peer(m), transport(m)
        t.deliver(old, append(1, (1, 0), [(2, 1), (3, 1), (4, 1)], commit=1))
        # a leader of term 2 holds e2 of term 1 but its own e3: rule 3 deletes 3.. and appends
        t.deliver(new, append(2, (1, 0), [(2, 1), (3, 2)], commit=1))
        assert log_of(m) == [(1, 0), (2, 1), (3, 2)]
        assert replies(m)[-1] == {"type": "next_node_idx", "next_node_idx": 4, "reset": False, "success": True}
    finally:
        m.destroy()


def test_a_heartbeat_does_not_commit_entries_it_does_not_vouch_for():
    m = member(RaftLogFix)
    try:
        t = transport(m)
        t.deliver(peer(m), append(1, (1, 0), [(2, 1), (3, 1)], commit=1))
        # term 2's leader has committed its own 3; its heartbeat only matches up to 2
        t.deliver(peer(m), append(2, (2, 1), [], commit=3))
        assert log_of(m) == [(1, 0), (2, 1), (3, 1)]  # kept until a conflicting entry arrives
        assert m.getStatus()["commit_idx"] == 2
        assert replies(m)[-1]["next_node_idx"] == 3
    finally:
        m.destroy()


def test_a_mismatched_previous_entry_is_still_refused():
    m = member(RaftLogFix)
    try:
        t = transport(m)
        t.deliver(peer(m), append(1, (1, 0), [(2, 1)], commit=1))
        t.deliver(peer(m), append(2, (2, 2), [(3, 2)], commit=1))
        assert log_of(m) == [(1, 0), (2, 1)]
        assert replies(m)[-1] == {"type": "next_node_idx", "next_node_idx": 2, "reset": True, "success": False}
    finally:
        m.destroy()


class Counter:
    """A replicated method, so the leader has real entries to send."""

    @staticmethod
    def make(cls: type[SyncObj]) -> SyncObj:
        class Replicated(cls):
            @replicated
            def incr(self) -> None:
                pass

        return member(Replicated)


def wait_ticking(m: SyncObj, cond, what: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m.doTick(0.0)
        got = cond()
        if got:
            return got
        time.sleep(0.002)
    raise AssertionError(f"timed out waiting for {what}")


def appends_sent(m: SyncObj) -> list[dict]:
    return [msg for _, msg in transport(m).sent if msg["type"] == "append_entries"]


def lead_with_entries_in_flight(cls: type[SyncObj]) -> SyncObj:
    """Elect the member (one vote from its peer) and have it send its no-op (2) and e3 before any reply."""
    m = Counter.make(cls)
    t, p = transport(m), peer(m)
    t.connect(p)
    wait_ticking(m, lambda: any(msg["type"] == "request_vote" for _, msg in t.sent), "a vote request")
    t.deliver(p, {"type": "response_vote", "term": m.raftCurrentTerm})
    assert m._isLeader()
    m.incr(sync=False)
    wait_ticking(m, lambda: any(e[1] == 3 for a in appends_sent(m) for e in a["entries"]), "e3 sent")
    return m


@pytest.mark.parametrize("cls, resent", [(RaftLogFix, False), (SyncObj, True)])
def test_a_late_success_reply_does_not_move_next_index_back(cls, resent):
    m = lead_with_entries_in_flight(cls)
    try:
        t, p = transport(m), peer(m)
        before = len(t.sent)
        t.deliver(p, {"type": "next_node_idx", "next_node_idx": 3, "reset": False, "success": True})  # the reply to e2
        wait_ticking(m, lambda: len(appends_sent(m)) > 0 and t.sent[-1][1]["type"] == "append_entries"
                     and len(t.sent) > before, "the next append_entries")
        following = [msg for _, msg in t.sent[before:] if msg["type"] == "append_entries"]
        resends = [msg for msg in following if any(e[1] == 3 for e in msg["entries"])]
        assert bool(resends) is resent, following
        assert following[0]["prevLogIdx"] == (2 if resent else 3)
    finally:
        m.destroy()


def test_a_large_entry_sent_in_chunks_is_appended_once_and_keeps_what_follows():
    """pysyncobj sends an entry of appendEntriesBatchSizeBytes or more in chunks ('start',
    'process', 'finish'); the rebuilt entry goes through the same rules."""
    import pysyncobj.pickle as pysyncobj_pickle

    m = member(RaftLogFix)
    try:
        t, p = transport(m), peer(m)
        big = (b"\x01" + b"x" * 100, 2, 1)
        t.deliver(p, append(1, (1, 0), [], commit=1) | {"entries": [big, (NO_OP, 3, 1)]})
        data = pysyncobj_pickle.dumps(big)
        chunks = [data[:40], data[40:80], data[80:]]
        for kind, chunk in zip(("start", "process", "finish"), chunks):
            t.deliver(p, {"type": "append_entries", "transmission": kind, "data": chunk, "term": 1,
                          "commit_index": 1, "prevLogIdx": 1, "prevLogTerm": 0})
        assert log_of(m) == [(1, 0), (2, 1), (3, 1)]
        assert m._SyncObj__raftLog[1][0] == big[0]
        assert replies(m)[-1] == {"type": "next_node_idx", "next_node_idx": 3, "reset": False, "success": True}
    finally:
        m.destroy()
