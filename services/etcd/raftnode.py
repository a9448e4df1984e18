"""One Raft member (pysyncobj) configured for etcd-like semantics, and the proposer that turns
client requests into log entries.

Configuration follows what pysyncobj 0.3.17 needs (measured against its source, syncobj.py and
config.py): an explicit bind address and a peer secret (peer
traffic is authenticated, never bare pickle: raftauth.py), a journal *and* a full dump file (a journal
alone loses state after log compaction), no append batching (otherwise every write waits ~100 ms),
fast reconnects, a leader that steps down soon after losing its majority, and no waiting for a
leader inside pysyncobj (we retry with a deadline ourselves, so a client never hangs).

The proposer coalesces the requests that arrive in one event-loop turn into one log entry (group
commit), which is what makes concurrent writes cheap; linearizable reads join the same entry as a
no-op barrier, so a read is served only after an entry submitted after it arrived has been applied
on this member.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pysyncobj import FAIL_REASON, SyncObjConf

from . import errors
from .errors import EtcdError
from .members import Cluster
from .raftauth import MessageAuthenticator
from .raftfix import RaftLogFix
from .looppoller import LoopTicker, RedialingTransport
from .statemachine import KVStateMachine

log = logging.getLogger("etcd.raft")

# Outcomes after which the entry was certainly not applied: safe to resubmit.
_RETRYABLE = {FAIL_REASON.QUEUE_FULL, FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER, FAIL_REASON.DISCARDED}


@dataclass
class RaftSettings:
    data_dir: Path
    listen_peer: str  # host:port to bind
    secret: bytes  # --peer-secret-file's content, or random bytes of this process (main.py _peer_secret)
    heartbeat_ms: int = 100
    election_ms: int = 1000
    snapshot_entries: int = 10000
    request_timeout: float = 5.0
    peers: int = 2
    tick_on_loop: bool = True  # drive pysyncobj from the event loop (looppoller.py), not its own thread
    dial: dict[str, tuple[str, int]] | None = None  # member address -> local TLS relay port (peertls.py)
    # A dial unanswered this long is dropped and made again (looppoller.RedialingTransport), so a
    # link returns within about this long after a partition heals; far above a loopback or LAN
    # handshake, far below the kernel's SYN retransmissions (1, 3, 7 s).
    connect_timeout: float = 0.4

    def conf(self, on_state_changed) -> SyncObjConf:
        hb = self.heartbeat_ms / 1000.0
        et = self.election_ms / 1000.0
        # etcd randomizes elections in [et, 2et); pysyncobj's window is [min, max). A window
        # starting below et keeps leader failover near etcd's ~1 s with the default 1000 ms.
        min_t = max(3.5 * hb, 0.6 * et)
        max_t = max(min_t + hb, 1.2 * et)
        member_dir = self.data_dir / "member"
        return SyncObjConf(
            bindAddress=self.listen_peer,
            # No `password`: that is pysyncobj's Fernet layer; AuthenticatedSyncObj signs messages instead.
            journalFile=str(member_dir / "raft.journal"),
            fullDumpFile=str(member_dir / "raft.dump"),
            appendEntriesUseBatch=False,
            appendEntriesPeriod=hb,
            raftMinTimeout=min_t,
            raftMaxTimeout=max_t,
            connectionTimeout=max(max_t, 1.5),
            connectionRetryTime=min(0.2, self.connect_timeout),
            leaderFallbackTimeout=max(max_t * 1.5, 1.0),
            commandsWaitLeader=False,
            # A lone member commits on its next tick, so it must tick often; members with peers
            # are woken by their peers' messages and can poll longer.
            autoTickPeriod=min(0.05, hb / 2) if self.peers else 0.002,
            autoTick=not self.tick_on_loop,
            logCompactionMinEntries=self.snapshot_entries,
            logCompactionMinTime=60,
            dynamicMembershipChange=False,
            onStateChanged=on_state_changed,
        )


class AuthenticatedSyncObj(RaftLogFix):
    """A SyncObj whose peer connections carry HMAC-signed messages (raftauth.py) instead of
    pysyncobj's Fernet ones: the same protection against forged pickles without `cryptography`.
    pysyncobj's transport asks `syncObj.encryptor` for the object that wraps each message; this
    answers with the authenticator. Its log follows Raft's AppendEntries rules (raftfix.py)."""

    def __init__(self, *args: Any, authenticator: MessageAuthenticator, **kwargs: Any) -> None:
        self._authenticator = authenticator  # before SyncObj.__init__, which builds the transport
        super().__init__(*args, **kwargs)

    @property
    def encryptor(self) -> MessageAuthenticator:
        return self._authenticator


class RaftNode:
    """The member's pysyncobj instance plus the views the gateway needs (leader, term, indexes)."""

    def __init__(self, cluster: Cluster, settings: RaftSettings, sm: KVStateMachine,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.cluster = cluster
        self.settings = settings
        self.sm = sm
        self.loop = loop
        (settings.data_dir / "member").mkdir(parents=True, exist_ok=True)
        self.leader_changes = 0
        self.ticker: LoopTicker | None = None
        if settings.tick_on_loop:
            self.ticker = LoopTicker(loop, period=0.01, lone=not settings.peers)
            transport_class = self.ticker.transport_class(settings.dial, settings.connect_timeout)
        else:
            transport_class = functools.partial(RedialingTransport, settings.connect_timeout)
        self.sync = AuthenticatedSyncObj(
            cluster.self_member.raft_address,
            cluster.peer_addresses(),
            settings.conf(self._on_state_changed),
            consumers=[sm],
            authenticator=MessageAuthenticator(settings.secret),
            transportClass=transport_class,
        )
        if self.ticker is not None:
            self.ticker.start(self.sync)

    def call_on_loop(self, fn, *args) -> None:
        """Run `fn` on the event loop, from pysyncobj's callbacks (its tick thread, or the loop itself)."""
        if self.ticker is not None:
            self.loop.call_soon(fn, *args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def _on_state_changed(self, old: int, new: int) -> None:
        # Runs inside pysyncobj's tick (on the loop, or its own thread): only log and count.
        names = {0: "follower", 1: "candidate", 2: "leader"}
        self.leader_changes += 1
        log.info("raft state changed", extra={"from": names.get(old, old), "to": names.get(new, new),
                                               "term": self.sync.raftCurrentTerm})

    # -------------------------------------------------------------- views

    @property
    def term(self) -> int:
        return self.sync.raftCurrentTerm

    def leader_address(self) -> str | None:
        leader = self.sync._getLeader()
        return getattr(leader, "address", None) if leader is not None else None

    def leader_id(self) -> int:
        return self.cluster.id_for_address(self.leader_address())

    def is_leader(self) -> bool:
        return self.leader_address() == self.cluster.self_member.raft_address

    def status(self) -> dict[str, Any]:
        return self.sync.getStatus()

    def db_size(self) -> int:
        total = 0
        member_dir = self.settings.data_dir / "member"
        for name in ("raft.journal", "raft.dump"):
            try:
                total += os.path.getsize(member_dir / name)
            except OSError:
                pass
        return total

    def destroy(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        self.sync.destroy()


class _Expired:
    __slots__ = ("error",)

    def __init__(self, error: EtcdError) -> None:
        self.error = error


def _resolve(fut: asyncio.Future, value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


class Proposer:
    """Submits requests to Raft from the asyncio loop with group commit.

    At most `max_inflight` entries from this member are in Raft at a time; requests that arrive
    meanwhile wait and go out together in the next entry as soon as one completes. An idle member
    therefore submits a request at once (no added latency), and a busy one puts many requests in
    each entry (far less Raft work per request).
    """

    def __init__(self, node: RaftNode, loop: asyncio.AbstractEventLoop, max_inflight: int = 2) -> None:
        self.node = node
        self.loop = loop
        self.max_inflight = max_inflight
        self._pending: list[tuple[str, Any, asyncio.Future, float]] = []
        self._inflight = 0
        self._flush_scheduled = False
        self._closed = False
        self.entries_submitted = 0
        self.requests_submitted = 0

    async def propose(self, kind: str, req: Any, timeout: float | None = None) -> Any:
        """Replicate one request; return its result (a response dict or an EtcdError).

        On deadline: a write's outcome is unknown, reported as etcd's `context deadline exceeded`;
        a read barrier reports `etcdserver: request timed out`, as etcd does without quorum.
        """
        if self._closed:
            raise errors.STOPPING
        timeout = self.node.settings.request_timeout if timeout is None else timeout
        fut = self.loop.create_future()
        deadline = time.monotonic() + timeout
        # The deadline resolves the future itself (cheaper than wait_for's extra task per request).
        expired = errors.REQUEST_TIMEOUT if kind == "noop" else errors.DEADLINE
        timer = self.loop.call_later(timeout, _resolve, fut, _Expired(expired))
        self._enqueue(kind, req, fut, deadline)
        try:
            result = await fut
        finally:
            timer.cancel()
        if isinstance(result, _Expired):
            raise result.error
        return result

    async def barrier(self, timeout: float | None = None) -> None:
        """Wait until this member has applied an entry committed after this call started."""
        result = await self.propose("noop", None, timeout)
        if isinstance(result, EtcdError):
            raise result

    def _enqueue(self, kind: str, req: Any, fut: asyncio.Future, deadline: float) -> None:
        self._pending.append((kind, req, fut, deadline))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._pending and not self._flush_scheduled and self._inflight < self.max_inflight:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        batch = [b for b in batch if not b[2].done()]
        if not batch:
            return
        ops = [(kind, req) for kind, req, _, _ in batch]
        self.entries_submitted += 1
        self.requests_submitted += len(ops)
        self._inflight += 1
        slot = {"open": True}

        def release() -> None:
            if slot["open"]:
                slot["open"] = False
                self._inflight -= 1
                self._schedule_flush()

        # pysyncobj may never call back (a connection lost while the leader stays the same):
        # the requests then time out on their own, and the slot is freed here.
        timer = self.loop.call_later(self.node.settings.request_timeout, release)

        def done_on_loop(result: Any, reason: int) -> None:
            timer.cancel()
            release()
            self._complete(batch, result, reason)

        def on_done(result: Any, reason: int) -> None:  # inside pysyncobj's tick: hand over, never raise
            try:
                self.node.call_on_loop(done_on_loop, result, reason)
            except RuntimeError:  # loop closed during shutdown
                pass

        try:
            self.node.sm.apply_batch(ops, callback=on_done)
        except Exception:
            log.exception("submitting to raft failed")
            done_on_loop(None, FAIL_REASON.QUEUE_FULL)

    def _complete(self, batch: list, result: Any, reason: int) -> None:
        if reason == FAIL_REASON.SUCCESS:
            for (_, _, fut, _), res in zip(batch, result):
                if not fut.done():
                    fut.set_result(res)
            return
        now = time.monotonic()
        retry = []
        for item in batch:
            kind, req, fut, deadline = item
            if fut.done():
                continue
            # Not applied for sure, or a read (harmless to repeat): try again until the deadline.
            if (reason in _RETRYABLE or kind == "noop") and now < deadline:
                retry.append(item)
            else:
                fut.set_result(errors.LEADER_CHANGED)
        if retry and not self._closed:
            self.loop.call_later(0.05, self._requeue, retry)

    def _requeue(self, items: list) -> None:
        for kind, req, fut, deadline in items:
            if not fut.done():
                self._enqueue(kind, req, fut, deadline)

    def close(self) -> None:
        self._closed = True
        for _, _, fut, _ in self._pending:
            if not fut.done():
                fut.set_result(errors.STOPPING)
        self._pending = []
