"""Run pysyncobj on the asyncio event loop instead of its own tick thread.

pysyncobj normally ticks on a thread of its own: every write then crosses threads twice (event
loop -> tick thread -> event loop), and the two threads fight over the GIL. With
`autoTick=False`, pysyncobj lets the caller drive it: `LoopPoller` hands its sockets to the event
loop (add_reader/add_writer) and `LoopTicker` runs `doTick(0)` right after any of them fires and
on a short timer (elections and heartbeats). Everything Raft does then happens on the one thread
that also serves HTTP, with no lock contention and no thread wake-ups.

pysyncobj creates its poller in `SyncObj.__init__` and hands it to the transport it builds right
after; `LoopTransport` is that transport, and installs the loop poller first, so every socket
pysyncobj ever opens (server, peer connections, its wake-up pipe) is watched by the event loop.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from pysyncobj.monotonic import monotonic as monotonicTime
from pysyncobj.poller import POLL_EVENT_TYPE, Poller
from pysyncobj.tcp_connection import CONNECTION_STATE
from pysyncobj.transport import TCPTransport

log = logging.getLogger("etcd.raft")


class LoopPoller(Poller):
    def __init__(self, loop: asyncio.AbstractEventLoop, on_event: Callable[[], None]) -> None:
        self.loop = loop
        self.on_event = on_event
        self.callbacks: dict[int, Callable[[int, int], None]] = {}

    def subscribe(self, descr: int, callback, eventMask: int) -> None:  # noqa: N803 (pysyncobj's API)
        self.unsubscribe(descr)
        self.callbacks[descr] = callback
        if eventMask & (POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR):
            self.loop.add_reader(descr, self._fire, descr, POLL_EVENT_TYPE.READ)
        if eventMask & POLL_EVENT_TYPE.WRITE:
            self.loop.add_writer(descr, self._fire, descr, POLL_EVENT_TYPE.WRITE)

    def unsubscribe(self, descr: int) -> None:
        if self.callbacks.pop(descr, None) is not None:
            self.loop.remove_reader(descr)
            self.loop.remove_writer(descr)

    def _fire(self, descr: int, event: int) -> None:
        callback = self.callbacks.get(descr)
        if callback is not None:
            try:
                callback(descr, event)
            except Exception:
                log.exception("raft socket callback failed")
        self.on_event()

    def poll(self, timeout: float) -> None:
        """Events are dispatched by the event loop; a tick never blocks here."""



class RedialingTransport(TCPTransport):
    """pysyncobj's TCP transport, with a deadline on dialling a member.

    pysyncobj (transport.py, `TCPTransport._connectIfNecessarySingle`) dials once and then waits
    while the connection is CONNECTING: nothing times that state out (tcp_connection.py checks its
    timeout only when the socket has an event). If the first SYN was dropped (a partition that has
    just healed), the link comes back only at the kernel's next SYN retransmission, 1, 3, 7, 15 s
    after the dial: up to several seconds with the network already fine. Here a dial that has
    not finished pysyncobj's handshake (TCP connect, then the key exchange: through peertls.py's
    relay the TCP connect succeeds at once and the wait is on the relay's own connect) within
    `connect_timeout` is dropped and dialled again, so a link returns within about
    `connect_timeout` of the network healing. etcd's peer transport does the same with its dial
    timeout (etcd server/etcdserver/api/rafthttp/transport.go: DialTimeout)."""

    def __init__(self, connect_timeout: float, syncObj, selfNode, otherNodes) -> None:  # noqa: N803
        self._connect_timeout = connect_timeout
        self._linked: set = set()  # members whose connection finished pysyncobj's handshake
        super().__init__(syncObj, selfNode, otherNodes)

    def _onNodeConnected(self, node) -> None:  # noqa: N802 (pysyncobj's name)
        self._linked.add(node)
        super()._onNodeConnected(node)

    def _onNodeDisconnected(self, node) -> None:  # noqa: N802
        self._linked.discard(node)
        super()._onNodeDisconnected(node)

    def _onTick(self) -> None:  # noqa: N802
        self._drop_stalled_dials()
        super()._onTick()

    def _drop_stalled_dials(self) -> None:
        now = monotonicTime()
        for node, conn in list(self._connections.items()):
            if node in self._linked or conn.state == CONNECTION_STATE.DISCONNECTED or not self._shouldConnect(node):
                continue
            started = self._lastConnectAttempt.get(node)
            if started is not None and now - started > self._connect_timeout:
                log.debug("raft dial timed out; dialling again", extra={"peer": node.address})
                conn.disconnect()  # pysyncobj's disconnect callback dials again (connectionRetryTime permitting)


class LoopTransport(RedialingTransport):
    """The redialling transport, with the event-loop poller installed before it opens anything.

    `dial` maps a member's address to where to connect instead (the local end of peertls.py's
    TLS relay); members keep their advertised addresses as identities."""

    def __init__(self, poller: LoopPoller, dial: dict[str, tuple[str, int]] | None, connect_timeout: float,
                 syncObj, selfNode, otherNodes) -> None:  # noqa: N803
        syncObj._poller = poller
        self._dial = dial or {}
        super().__init__(connect_timeout, syncObj, selfNode, otherNodes)

    def _connectIfNecessarySingle(self, node):  # noqa: N802 (pysyncobj's name)
        target = self._dial.get(node.address)
        if target is None:
            return super()._connectIfNecessarySingle(node)
        # pysyncobj's own logic, with the relay's local address dialled instead of the member's
        if node in self._connections and self._connections[node].state != CONNECTION_STATE.DISCONNECTED:
            return True
        if not self._shouldConnect(node):
            return False
        if node in self._lastConnectAttempt and \
                monotonicTime() - self._lastConnectAttempt[node] < self._syncObj.conf.connectionRetryTime:
            return False
        self._lastConnectAttempt[node] = monotonicTime()
        return self._connections[node].connect(*target)


class LoopTicker:
    """Drives `SyncObj.doTick` from the event loop: after socket activity and every `period`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float, lone: bool = False) -> None:
        self.sync = None
        self.loop = loop
        self.period = period
        # A lone member appends an entry in one tick and commits it in the next; no peer message
        # would wake it in between, so it ticks twice per wake-up.
        self.ticks_per_wake = 2 if lone else 1
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self.poller = LoopPoller(loop, self.soon)

    def transport_class(self, dial: dict[str, tuple[str, int]] | None, connect_timeout: float):
        """What to pass as SyncObj's transportClass."""
        return functools.partial(LoopTransport, self.poller, dial, connect_timeout)

    def start(self, sync) -> None:
        self.sync = sync
        self._periodic()

    def soon(self) -> None:
        if not self._scheduled and self.sync is not None:
            self._scheduled = True
            self.loop.call_soon(self._tick)

    def _tick(self) -> None:
        self._scheduled = False
        try:
            for _ in range(self.ticks_per_wake):
                self.sync.doTick(0.0)
        except Exception:
            log.exception("raft tick failed")

    def _periodic(self) -> None:
        self._tick()
        self._timer = self.loop.call_later(self.period, self._periodic)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
