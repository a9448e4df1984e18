"""The Raft port runs no pickle it cannot authenticate, and nothing visible is the key.

pysyncobj unpickles what arrives on its port. These tests write to a live member's Raft ports as
another local user would: a pickle that would create a file when loaded, unsigned, and signed
with the key the store used to derive from `--initial-cluster-token` (visible to anyone in `ps`).
The member must drop the connection without loading it and keep serving; a peer that knows the
secret of `--peer-secret-file` still completes pysyncobj's handshake, so the refusal is the
authenticator's doing and not a broken port. With https:// peer URLs, pysyncobj still listens on
a plain loopback port behind the TLS relay, and the relay's outbound ports dial the other members
with this member's certificate: every one of them refuses forgeries too.
"""
from __future__ import annotations

import json
import os
import pathlib
import pickle
import socket
import stat
import struct
import subprocess
import sys
import time
import zlib

import httpx
import pytest

from kubeling.services.etcd.raftauth import MessageAuthenticator, write_secret_file
from kubeling.shared.pki import CertificateAuthority
from tests.support.procs import ProcGroup, free_port, wait_until



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
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
        if len(buf) >= 4 and len(buf) - 4 >= struct.unpack("i", buf[:4])[0]:
            return buf[4:4 + struct.unpack("i", buf[:4])[0]]
    raise AssertionError("the member neither answered nor closed the connection")


def _send(port: int, data: bytes) -> bytes | None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(_frame(data))
        return _read_frame(s, time.monotonic() + 10)


def _forgeries(marker: pathlib.Path, token: str) -> dict[str, bytes]:
    """What an outsider can send: the pickle unsigned, and signed with the old token-derived key."""
    payload = zlib.compress(pickle.dumps(_TouchOnLoad(marker)), 3)
    old_key = MessageAuthenticator(token.encode())  # the derivation from --initial-cluster-token
    return {"unsigned": payload, "signed with the cluster token": old_key.encrypt_at_time(payload, int(time.monotonic()))}


def _hello(auth: MessageAuthenticator) -> bytes:
    """The first message of pysyncobj's handshake: a random key, signed."""
    return auth.encrypt_at_time(zlib.compress(pickle.dumps(b"k" * 32), 3), int(time.monotonic()))


def test_unsigned_and_token_signed_pickles_are_dropped_unloaded(cluster, tmp_path):
    marker = tmp_path / "loaded"
    for what, data in _forgeries(marker, "test-cluster").items():  # StoreCluster's --initial-cluster-token
        assert _send(cluster.peer_ports[0], data) is None, f"a message {what} got an answer"
    assert not marker.exists(), "the member unpickled an outsider's message"
    assert cluster.put(0, "after", "forgery").status_code == 200
    cluster.wait_healthy()


def test_a_peer_with_the_secret_file_completes_the_handshake(cluster):
    auth = MessageAuthenticator(cluster.secret_file.read_bytes())
    reply = wait_until(lambda: _send(cluster.peer_ports[0], _hello(auth)), 10, what="the member's handshake reply")
    # The member answers with its own random key, tagged with ours, signed with the shared secret.
    echoed, member_key = pickle.loads(zlib.decompress(auth.decrypt(reply)))
    assert echoed == b"k" * 32 and len(member_key) == 32


def _etcd(tmp_path: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    peers = [free_port(), free_port()]
    initial = f"a=http://127.0.0.1:{peers[0]},b=http://127.0.0.1:{peers[1]}"
    return subprocess.run([sys.executable, "-m", "kubeling", "etcd", "--name", "a", "--data-dir", str(tmp_path / "a"),
                           "--listen-client-urls", f"http://127.0.0.1:{free_port()}",
                           "--listen-peer-urls", f"http://127.0.0.1:{peers[0]}", "--initial-cluster", initial, *extra],
                          capture_output=True, text=True, timeout=60)


def _secret(path: pathlib.Path, content: bytes, mode: int) -> pathlib.Path:
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("case, expected", [
    ("none", "--peer-secret-file is required"),
    ("missing", "No such file"),
    ("empty", "the file is empty"),
    ("group-readable", "permissions 0640 are too open"),
    ("world-readable", "permissions 0644 are too open"),
])
def test_a_member_with_peers_refuses_to_start_without_a_private_secret(tmp_path, case, expected):
    files = {
        "none": None,
        "missing": tmp_path / "absent",
        "empty": _secret(tmp_path / "empty", b"", 0o600),
        "group-readable": _secret(tmp_path / "group", os.urandom(32), 0o640),
        "world-readable": _secret(tmp_path / "world", os.urandom(32), 0o644),
    }
    path = files[case]
    run = _etcd(tmp_path, *(["--peer-secret-file", str(path)] if path else []))
    assert run.returncode == 2, run.stderr
    assert "kubeling etcd: " in run.stderr and expected in run.stderr, run.stderr


def test_a_lone_member_without_a_secret_file_refuses_forgeries(procs, tmp_path):
    """A single member needs no file, but pysyncobj listens all the same: under a key of random
    bytes that exist in that process only."""
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    procs.start("solo", ["etcd", "--name", "solo", "--data-dir", str(tmp_path / "solo"), "--listen-client-urls", url,
                         "--listen-peer-urls", f"http://127.0.0.1:{peer}"])
    wait_until(lambda: httpx.get(url + "/health", timeout=2).status_code == 200, 30, what="the lone member healthy")
    marker = tmp_path / "loaded"
    for what, data in _forgeries(marker, "etcd-cluster").items():  # the default --initial-cluster-token
        assert _send(peer, data) is None, f"a message {what} got an answer"
    assert not marker.exists(), "the lone member unpickled an outsider's message"
    assert httpx.post(url + "/v3/kv/put", content=json.dumps({"key": "YQ==", "value": "Yg=="}), timeout=10).status_code == 200


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (its socket inodes matched in /proc/net/tcp)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # state LISTEN
            ports.add(int(fields[1].split(":")[1], 16))
    return ports


def test_behind_peer_tls_every_raft_port_refuses_forgeries(procs: ProcGroup, tmp_path):
    """pysyncobj's internal loopback port (behind the TLS relay) and the relay's outbound ports,
    which carry whatever connects to them to another member under this member's certificate."""
    pki = tmp_path / "pki"
    ca = CertificateAuthority.create("etcd-ca")
    ca.keypair().write(pki, "ca")
    ca.issue("etcd-peer", hosts=("127.0.0.1",), server=True, client=True).write(pki, "peer")
    secret = pki / "etcd-peer-secret"
    assert write_secret_file(secret) and stat.S_IMODE(secret.stat().st_mode) == 0o600
    clients, peers = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    initial = ",".join(f"etcd-{i}=https://127.0.0.1:{peers[i]}" for i in range(3))
    members = [procs.start(f"etcd-{i}", [
        "etcd", "--name", f"etcd-{i}", "--data-dir", str(tmp_path / f"etcd-{i}"),
        "--listen-client-urls", f"http://127.0.0.1:{clients[i]}", "--listen-peer-urls", f"https://127.0.0.1:{peers[i]}",
        "--initial-cluster", initial, "--initial-cluster-token", "kubeling-t",
        "--peer-cert-file", str(pki / "peer.crt"), "--peer-key-file", str(pki / "peer.key"),
        "--peer-trusted-ca-file", str(pki / "ca.crt"), "--peer-client-cert-auth", "--peer-secret-file", str(secret)])
        for i in range(3)]
    urls = [f"http://127.0.0.1:{p}" for p in clients]
    wait_until(lambda: all(httpx.get(u + "/health", timeout=2).status_code == 200 for u in urls), 60,
               what="three TLS-peered members healthy")
    # etcd-0's Raft-side ports: all it listens on but its client URL and its TLS peer port
    raft_ports = _listening_ports(members[0].pid) - {clients[0], peers[0]}
    assert len(raft_ports) >= 3, raft_ports  # pysyncobj's internal port and one outbound port per other member
    marker = tmp_path / "loaded"
    for port in sorted(raft_ports):
        for what, data in _forgeries(marker, "kubeling-t").items():
            assert _send(port, data) is None, f"a message {what} to port {port} got an answer"
    assert not marker.exists(), "a member unpickled an outsider's message"
    put = httpx.post(urls[0] + "/v3/kv/put", content=json.dumps({"key": "YQ==", "value": "Yg=="}), timeout=10)
    assert put.status_code == 200, put.text
    # and the internal port does answer a peer that knows the secret: the refusals above were the authenticator's
    auth = MessageAuthenticator(secret.read_bytes())
    answered = [p for p in raft_ports if _send(p, _hello(auth)) is not None]
    assert answered, "no Raft port of etcd-0 completes a handshake with the secret"
