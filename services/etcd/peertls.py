"""Mutual TLS between store members: etcd's https:// peer URLs with --peer-client-cert-auth.

pysyncobj's transport speaks plain TCP and has no TLS, so with https:// peer URLs each member
runs a small TLS relay on its event loop:
- inbound: a TLS server on the member's peer address (--listen-peer-urls) that requires a client
  certificate from --peer-trusted-ca-file and carries each connection to pysyncobj, which then
  listens on a loopback-only internal port (not secret: any local user sees it in `ss -lt`
  and can connect, bypassing TLS, so what guards it is the message authentication below);
- outbound: for each other member, a loopback-only local port; pysyncobj dials it instead of the
  member's address (LoopTransport's `dial` map), and the relay carries the connection over TLS to
  that member's peer address, presenting this member's --peer-cert-file and checking the other's
  certificate against the same CA.
Raft's framing and its own message authentication (--peer-secret-file, raftauth.py) run
inside, unchanged: TLS encrypts and admits members, the secret signs each message. Member
identities stay the advertised peer addresses, so a member with TLS peers and the rest of the
cluster agree on who is who.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass

log = logging.getLogger("etcd.peertls")


@dataclass(frozen=True)
class PeerTLSFiles:
    cert: str
    key: str
    trusted_ca: str
    client_cert_auth: bool = True

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        if self.client_cert_auth:
            ctx.load_verify_locations(self.trusted_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.trusted_ca)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def _loopback_listener() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    s.setblocking(False)
    return s


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# pysyncobj abandons a dial whose handshake has not finished after 0.4 s and dials again
# (looppoller.RedialingTransport); the relay's own dial for it gives up soon after, so attempts into
# a partition do not pile up. A TLS handshake between members takes milliseconds.
_DIAL_TIMEOUT = 1.0
_HANDSHAKE_TIMEOUT = 5.0


class PeerRelay:
    """The TLS relay of one member. Its sockets are bound when it is made (so pysyncobj, created
    right after, knows where to bind and dial); the servers start on the event loop."""

    def __init__(self, listen: str, peers: list[str], files: PeerTLSFiles) -> None:
        host, port = listen.rsplit(":", 1)
        self.listen = (host, int(port))
        self.files = files
        self.server_ctx = files.server_context()
        self.client_ctx = files.client_context()
        # where pysyncobj listens: loopback only, known to this process alone
        self.internal = f"127.0.0.1:{free_loopback_port()}"
        self._outbound = {peer: _loopback_listener() for peer in peers}
        self._servers: list[asyncio.AbstractServer] = []

    def dial(self) -> dict[str, tuple[str, int]]:
        """Peer address -> the local port pysyncobj dials to reach it."""
        return {peer: sock.getsockname()[:2] for peer, sock in self._outbound.items()}

    async def start(self) -> None:
        host, port = self.listen
        # A dialer that never finishes its handshake is dropped after a few seconds (asyncio's
        # default waits 60 s), so stray connections cannot pile up on the peer port.
        self._servers.append(await asyncio.start_server(self._inbound, host, port, ssl=self.server_ctx,
                                                        ssl_handshake_timeout=_HANDSHAKE_TIMEOUT,
                                                        reuse_address=True))
        for peer, sock in self._outbound.items():
            self._servers.append(await asyncio.start_server(lambda r, w, p=peer: self._outgoing(p, r, w), sock=sock))

    async def stop(self) -> None:
        for s in self._servers:
            s.close()
        for s in self._servers:
            await s.wait_closed()

    async def _inbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A member connected over TLS (its certificate checked in the handshake): on to pysyncobj."""
        host, port = self.internal.rsplit(":", 1)
        try:
            r2, w2 = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        await _splice(reader, writer, r2, w2)

    async def _outgoing(self, peer: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """pysyncobj dialled a member: carry it over TLS to that member's peer address."""
        host, port = peer.rsplit(":", 1)
        try:
            r2, w2 = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), ssl=self.client_ctx, server_hostname=host), _DIAL_TIMEOUT)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
            log.debug("peer unreachable over TLS", extra={"peer": peer, "error": repr(e)})
            writer.close()  # pysyncobj sees the connection drop and retries, as with a refused one
            return
        await _splice(reader, writer, r2, w2)


async def _splice(r1: asyncio.StreamReader, w1: asyncio.StreamWriter,
                  r2: asyncio.StreamReader, w2: asyncio.StreamWriter) -> None:
    """Copy both ways until either side closes; then close both."""
    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            dst.close()

    await asyncio.gather(pump(r1, w2), pump(r2, w1), return_exceptions=True)
