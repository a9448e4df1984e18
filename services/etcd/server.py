"""One store member, assembled: Raft node, state machine, proposer, watch hub, and the background
duties only the leader performs (expiring leases, auto-compaction) plus publishing this
member's client URLs. The gateway (gateway.py) serves clients on top of it.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from kubeling.shared import flags

from .members import Cluster
from .peertls import PeerRelay, PeerTLSFiles
from .raftnode import Proposer, RaftNode, RaftSettings
from .statemachine import KVStateMachine
from .watch import WatchHub

log = logging.getLogger("etcd.server")


@dataclass
class ServerOptions:
    client_urls: list[str]
    max_request_bytes: int = 1572864  # etcd's 1.5 MiB
    max_txn_ops: int = 128
    auto_compaction_mode: str = "periodic"  # periodic | revision
    auto_compaction_retention: str = "0"  # periodic: duration ("1h", "30m", bare number = hours); revision: count
    progress_notify_interval: float = 600.0
    compaction_check_interval: float = 5.0
    max_inflight_entries: int = 2


def parse_duration(text: str) -> float:
    """etcd's periodic retention: a Go duration ("5m", "1h30m", "90s") or a bare number of hours."""
    text = text.strip()
    if not text:
        return 0.0
    try:
        return float(text) * 3600.0
    except ValueError:
        pass
    try:
        return flags.duration(text)
    except argparse.ArgumentTypeError as e:
        raise ValueError(str(e)) from None


class Metrics:
    """Prometheus metrics named after etcd's where the concept is the same."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("etcd_grpc_requests", "Client requests by method", ["method"], registry=r)
        self.errors = Counter("etcd_grpc_errors", "Client requests answered with an error", ["method", "code"],
                              registry=r)
        self.has_leader = Gauge("etcd_server_has_leader", "1 if a leader is known", registry=r)
        self.is_leader = Gauge("etcd_server_is_leader", "1 if this member is the leader", registry=r)
        self.term = Gauge("etcd_server_raft_term", "Current Raft term", registry=r)
        self.leader_changes = Gauge("etcd_server_leader_changes_seen", "Raft state changes seen", registry=r)
        self.revision = Gauge("etcd_debugging_mvcc_current_revision", "Current store revision", registry=r)
        self.compact_revision = Gauge("etcd_debugging_mvcc_compact_revision", "Last compacted revision",
                                      registry=r)
        self.keys = Gauge("etcd_debugging_mvcc_keys_total", "Keys in the index (tombstones included)", registry=r)
        self.watchers = Gauge("etcd_debugging_mvcc_watcher_total", "Active watchers", registry=r)
        self.events = Gauge("etcd_debugging_mvcc_events_sent_total", "Watch events sent", registry=r)
        self.leases = Gauge("etcd_debugging_lease_total", "Live leases", registry=r)
        self.db_size = Gauge("etcd_mvcc_db_total_size_in_bytes", "Raft journal plus snapshot size", registry=r)
        self.proposals = Gauge("etcd_server_proposals_committed_total", "Raft entries submitted by this member",
                               registry=r)
        self.proposed_requests = Gauge("kubeling_etcd_requests_proposed_total",
                                       "Client requests carried by those entries (group commit)", registry=r)

    def render(self, s: "EtcdServer") -> bytes:
        leader = s.node.leader_address()
        self.has_leader.set(1 if leader else 0)
        self.is_leader.set(1 if s.node.is_leader() else 0)
        self.term.set(s.node.term)
        self.leader_changes.set(s.node.leader_changes)
        with s.sm.lock:
            self.revision.set(s.sm.store.rev)
            self.compact_revision.set(max(0, s.sm.store.compact_rev))
            self.keys.set(len(s.sm.store.index))
            self.leases.set(len(s.sm.store.leases))
        self.watchers.set(len(s.hub.watchers))
        self.events.set(s.hub.events_sent)
        self.db_size.set(s.node.db_size())
        self.proposals.set(s.proposer.entries_submitted)
        self.proposed_requests.set(s.proposer.requests_submitted)
        return generate_latest(self.registry)


class EtcdServer:
    def __init__(self, cluster: Cluster, raft: RaftSettings, opts: ServerOptions) -> None:
        self.cluster = cluster
        self.raft_settings = raft
        self.opts = opts
        self.client_urls = opts.client_urls
        self.max_request_bytes = opts.max_request_bytes
        self.max_txn_ops = opts.max_txn_ops
        # etcd's gRPC server takes messages up to --max-request-bytes plus 512 KiB (grpcOverheadBytes
        # in server/embed/serve.go); etcd itself then refuses writes over --max-request-bytes
        # ("request is too large"). The gateway buffers at most the JSON of such a message (base64
        # inflates by 4/3) plus room for the JSON around it.
        self.max_grpc_message_bytes = opts.max_request_bytes + 512 * 1024
        self.body_limit = self.max_grpc_message_bytes * 4 // 3 + 4096
        # etcd: minimum lease TTL is ceil(1.5 x election timeout)
        self.min_lease_ttl = max(1, math.ceil(1.5 * raft.election_ms / 1000.0))
        self.metrics = Metrics()
        self.sm = KVStateMachine()
        self.node: RaftNode | None = None
        self.proposer: Proposer | None = None
        self.hub: WatchHub | None = None
        self._tasks: list[asyncio.Task] = []
        self.peer_tls: PeerTLSFiles | None = None  # set by main for https:// peer URLs
        self.relay: PeerRelay | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.hub = WatchHub(self.sm, self.header, loop, self.opts.progress_notify_interval,
                            threadsafe=not self.raft_settings.tick_on_loop)
        self.sm.on_applied = self.hub.notify
        self.sm.on_restored = self.hub.notify
        settings = self.raft_settings
        if self.peer_tls is not None:  # https:// peer URLs: Raft goes through the mutual-TLS relay
            self.relay = PeerRelay(settings.listen_peer, self.cluster.peer_addresses(), self.peer_tls)
            await self.relay.start()
            settings = dataclasses.replace(settings, listen_peer=self.relay.internal, dial=self.relay.dial())
        self.node = RaftNode(self.cluster, settings, self.sm, loop)
        self.proposer = Proposer(self.node, loop, self.opts.max_inflight_entries)
        self._tasks = [
            loop.create_task(self._publish_loop()),
            loop.create_task(self._lease_loop()),
            loop.create_task(self._compaction_loop()),
        ]
        log.info("member started", extra={"member": self.cluster.self_name, "id": f"{self.cluster.self_id:x}",
                                          "raft": self.cluster.self_member.raft_address,
                                          "client": ",".join(self.client_urls)})

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self.proposer is not None:
            self.proposer.close()
        if self.node is not None:
            if self.raft_settings.tick_on_loop:
                self.node.destroy()
            else:
                await asyncio.get_running_loop().run_in_executor(None, self.node.destroy)
        if self.relay is not None:
            await self.relay.stop()

    # ------------------------------------------------------------------ helpers for the gateway

    def header(self, rev: int | None) -> dict[str, str]:
        h = {"cluster_id": str(self.cluster.cluster_id), "member_id": str(self.cluster.self_id)}
        if rev:
            h["revision"] = str(rev)
        term = self.node.term if self.node is not None else 0
        if term:
            h["raft_term"] = str(term)
        return h

    @property
    def lease_id_prefix(self) -> int:
        """High bits of auto-assigned lease IDs: from the cluster ID, so the same on every member
        (like etcd's idutil prefix, which keeps IDs of different clusters apart)."""
        return self.cluster.cluster_id & 0x3FFFFF

    # ------------------------------------------------------------------ background duties

    async def _publish_loop(self) -> None:
        """Announce our client URLs through Raft once (retrying until a leader accepts it)."""
        while True:
            result = await self.proposer.propose("publish", (self.cluster.self_name, list(self.client_urls)),
                                                 timeout=5.0) if self.node.leader_address() else None
            if isinstance(result, dict):
                log.info("published client URLs", extra={"urls": ",".join(self.client_urls)})
                return
            await asyncio.sleep(0.2)

    async def _lease_loop(self) -> None:
        """The leader revokes expired leases (etcd's lessor checks every 500 ms)."""
        while True:
            await asyncio.sleep(0.5)
            if not self.node.is_leader():
                continue
            now = time.time()
            with self.sm.lock:
                expired = [lid for lid, lease in self.sm.store.leases.items() if lease.expiry <= now]
            for lid in expired[:500]:
                await self.proposer.propose("lease_expire", (lid, now))

    async def _compaction_loop(self) -> None:
        """etcd's --auto-compaction-mode/--auto-compaction-retention, run by the leader."""
        mode = self.opts.auto_compaction_mode
        if mode == "revision":
            keep = int(self.opts.auto_compaction_retention or 0)
            if keep <= 0:
                return
        else:
            retention = parse_duration(self.opts.auto_compaction_retention)
            if retention <= 0:
                return
        samples: list[tuple[float, int]] = []  # (time, revision) seen, for periodic mode
        interval = self.opts.compaction_check_interval
        if mode != "revision":
            interval = min(interval, max(retention / 10.0, 0.1))
        while True:
            await asyncio.sleep(interval)
            with self.sm.lock:
                rev, compacted = self.sm.store.rev, self.sm.store.compact_rev
            now = time.monotonic()
            if mode == "revision":
                target = rev - keep
            else:
                samples.append((now, rev))
                old = [r for t, r in samples if now - t >= retention]
                samples = [(t, r) for t, r in samples if now - t < retention] + ([(now - retention, old[-1])] if old else [])
                target = old[-1] if old else 0
            if target > compacted and target > 1 and self.node.is_leader():
                result: Any = await self.proposer.propose("compact", target)
                if isinstance(result, dict):
                    log.info("auto-compacted", extra={"revision": target, "mode": mode})
