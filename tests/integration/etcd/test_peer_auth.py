"""The Raft port runs no pickle it cannot authenticate (reference/pysyncobj.md, pitfall 1).

pysyncobj unpickles what arrives on its port. These tests write to a live member's peer port as an
outsider would: a pickle that would create a file when loaded, unsigned and signed with a wrong
secret. The member must drop the connection without loading it and keep serving; a peer that
knows the cluster's secret still completes pysyncobj's handshake, so the refusal is the
authenticator's doing and not a broken port.
"""
from __future__ import annotations

import pathlib
import pickle
import socket
import struct
import time
import zlib


from kubeling.services.etcd.raftauth import MessageAuthenticator
from tests.support.procs import wait_until

from .cluster import StoreCluster


class _TouchOnLoad:
    """Unpickling this creates `path`: the proof that a member loaded an outsider's pickle."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


def _frame(data: bytes) -> bytes:
    return struct.pack("i", len(data)) + data  # pysyncobj's TcpConnection framing


def _read_frame(sock: socket.socket, deadline: float) -> bytes | None:
    """One framed message, or None when the member closes the connection first."""
    buf = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            return None
        buf += chunk
        if len(buf) >= 4 and len(buf) - 4 >= struct.unpack("i", buf[:4])[0]:
            return buf[4:4 + struct.unpack("i", buf[:4])[0]]
    raise AssertionError("the member neither answered nor closed the connection")


def _send(cluster: StoreCluster, data: bytes) -> bytes | None:
    with socket.create_connection(("127.0.0.1", cluster.peer_ports[0]), timeout=5) as s:
        s.sendall(_frame(data))
        return _read_frame(s, time.monotonic() + 10)


def test_unsigned_and_forged_pickles_are_dropped_unloaded(cluster, tmp_path):
    marker = tmp_path / "loaded"
    payload = zlib.compress(pickle.dumps(_TouchOnLoad(marker)), 3)
    assert _send(cluster, payload) is None, "an unsigned message got an answer"
    forged = MessageAuthenticator("not-the-cluster-token").encrypt_at_time(payload, int(time.monotonic()))
    assert _send(cluster, forged) is None, "a message signed with another secret got an answer"
    assert not marker.exists(), "the member unpickled an outsider's message"
    assert cluster.put(0, "after", "forgery").status_code == 200
    cluster.wait_healthy()


def test_a_peer_with_the_cluster_secret_completes_the_handshake(cluster):
    auth = MessageAuthenticator("test-cluster")  # StoreCluster's --initial-cluster-token
    rand_key = b"k" * 32
    hello = auth.encrypt_at_time(zlib.compress(pickle.dumps(rand_key), 3), int(time.monotonic()))
    reply = wait_until(lambda: _send(cluster, hello), 10, what="the member's handshake reply")
    # The member answers with its own random key, tagged with ours, signed with the shared secret.
    echoed, member_key = pickle.loads(zlib.decompress(auth.decrypt(reply)))
    assert echoed == rand_key and len(member_key) == 32
