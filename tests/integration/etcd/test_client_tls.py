"""The store's client URLs over TLS with `--client-cert-auth`, as etcd runs in a kubeadm cluster:
only a client holding a certificate from the cluster CA (the apiserver, an admin's etcdctl) gets in.
"""
from __future__ import annotations

import json
import ssl
import subprocess
import sys

import httpx
import pytest

from kubeling.services.etcd.raftauth import write_secret_file
from kubeling.shared.pki import CertificateAuthority
from tests.support.procs import ProcGroup, free_port, wait_until


@pytest.fixture()
def pki(tmp_path):
    ca = CertificateAuthority.create("etcd-ca")
    d = tmp_path / "pki"
    ca.keypair().write(d, "ca")
    ca.issue("etcd-0", hosts=("127.0.0.1", "localhost"), server=True).write(d, "server")
    ca.issue("kube-apiserver-etcd-client", client=True).write(d, "apiserver-etcd-client")
    CertificateAuthority.create("rogue").issue("intruder", client=True).write(d, "rogue")
    return d


def _member(procs: ProcGroup, pki, port: int) -> None:
    url = f"https://127.0.0.1:{port}"
    procs.start("etcd-0", ["etcd", "--name", "etcd-0", "--data-dir", str(procs.log_dir / "etcd-0"),
                           "--listen-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{free_port()}",
                           "--cert-file", str(pki / "server.crt"), "--key-file", str(pki / "server.key"),
                           "--trusted-ca-file", str(pki / "ca.crt"), "--client-cert-auth"])


def _client(pki, stem: str | None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if stem:
        ctx.load_cert_chain(str(pki / f"{stem}.crt"), str(pki / f"{stem}.key"))
    return httpx.Client(verify=ctx, timeout=5)


def test_store_accepts_only_clients_with_a_cluster_certificate(procs, pki):
    port = free_port()
    _member(procs, pki, port)
    url = f"https://127.0.0.1:{port}"
    good = _client(pki, "apiserver-etcd-client")
    wait_until(lambda: _ok(good, url + "/health"), 30, what="the TLS member healthy")
    put = good.post(url + "/v3/kv/put", content=json.dumps({"key": "YQ==", "value": "Yg=="}))
    assert put.status_code == 200 and int(put.json()["header"]["revision"]) >= 2

    for stem in (None, "rogue"):  # no certificate, or one from another CA: refused in the handshake
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            _client(pki, stem).post(url + "/v3/kv/range", content=json.dumps({"key": "YQ=="}))
    with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP to the TLS port gets no answer
        httpx.post(f"http://127.0.0.1:{port}/v3/kv/range", content=b"{}", timeout=5)

    # kubeling etcdctl takes etcdctl's TLS flags
    ctl = [sys.executable, "-m", "kubeling.cli", "etcdctl", f"--endpoints={url}", f"--cacert={pki / 'ca.crt'}"]
    out = subprocess.run(ctl + [f"--cert={pki / 'apiserver-etcd-client.crt'}", f"--key={pki / 'apiserver-etcd-client.key'}",
                                "get", "a"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.split() == ["a", "b"], out.stderr
    out = subprocess.run(ctl + ["--command-timeout=2s", "get", "a"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "b" not in out.stdout.split()


def test_apiserver_reaches_a_client_cert_auth_store(procs, pki):
    port, api = free_port(), free_port()
    _member(procs, pki, port)
    procs.start("apiserver", ["apiserver", "--etcd-servers", f"https://127.0.0.1:{port}", "--secure-port", str(api),
                              "--etcd-cafile", str(pki / "ca.crt"), "--etcd-certfile", str(pki / "apiserver-etcd-client.crt"),
                              "--etcd-keyfile", str(pki / "apiserver-etcd-client.key")])
    base = f"http://127.0.0.1:{api}"
    wait_until(lambda: _ok(httpx, base + "/readyz"), 60, what="apiserver ready over a TLS store")
    r = httpx.post(base + "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tls"}})
    assert r.status_code == 201, r.text
    assert httpx.get(base + "/api/v1/namespaces/tls").json()["metadata"]["name"] == "tls"


def test_bad_tls_configuration_is_refused_at_start(tmp_path, pki):
    base = [sys.executable, "-m", "kubeling.cli", "etcd", "--name", "x", "--data-dir", str(tmp_path / "x"),
            "--listen-peer-urls", f"http://127.0.0.1:{free_port()}"]
    cases = [
        ["--listen-client-urls", f"https://127.0.0.1:{free_port()}"],  # https without a certificate
        ["--listen-client-urls", f"http://127.0.0.1:{free_port()}", "--client-cert-auth"],  # needs https
        ["--listen-client-urls", f"https://127.0.0.1:{free_port()}", "--cert-file", str(pki / "server.crt"),
         "--key-file", str(pki / "rogue.key")],  # key does not match the certificate
    ]
    for extra in cases:
        r = subprocess.run(base + extra, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "kubeling etcd:" in r.stderr, (extra, r.stderr)


def _ok(client, url: str) -> bool:
    try:
        return client.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_metrics_listener_serves_health_without_a_certificate(procs, pki):
    port, metrics = free_port(), free_port()
    url = f"https://127.0.0.1:{port}"
    member = procs.start("etcd-0", ["etcd", "--name", "etcd-0", "--data-dir", str(procs.log_dir / "etcd-0"),
                                    "--listen-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{free_port()}",
                                    "--listen-metrics-urls", f"http://127.0.0.1:{metrics}",
                                    "--cert-file", str(pki / "server.crt"), "--key-file", str(pki / "server.key"),
                                    "--trusted-ca-file", str(pki / "ca.crt"), "--client-cert-auth"])
    plain = f"http://127.0.0.1:{metrics}"
    wait_until(lambda: _ok(httpx, plain + "/health"), 30, what="the metrics listener healthy")
    assert httpx.get(plain + "/health").json() == {"health": "true"}
    assert "etcd_server_has_leader 1.0" in httpx.get(plain + "/metrics").text
    # the KV API is not on the metrics listener
    assert httpx.post(plain + "/v3/kv/range", content=json.dumps({"key": "YQ=="})).status_code == 404
    member.stop()  # SIGTERM stops both listeners and the process exits cleanly
    assert member.popen.returncode == 0, member.log_tail()


def test_members_talk_raft_over_mutual_tls(procs, pki):
    """https:// peer URLs with --peer-client-cert-auth: the members replicate through the TLS
    relay, and the peer port refuses a TLS client without a member certificate."""
    ca = CertificateAuthority.load(pki / "ca.crt", pki / "ca.key")
    ca.issue("etcd-peer", hosts=("127.0.0.1",), server=True, client=True).write(pki, "peer")
    clients, peers = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    initial = ",".join(f"etcd-{i}=https://127.0.0.1:{peers[i]}" for i in range(3))
    write_secret_file(pki / "etcd-peer-secret")
    for i in range(3):
        procs.start(f"etcd-{i}", ["etcd", "--name", f"etcd-{i}", "--data-dir", str(procs.log_dir / f"etcd-{i}"),
                                  "--listen-client-urls", f"http://127.0.0.1:{clients[i]}",
                                  "--listen-peer-urls", f"https://127.0.0.1:{peers[i]}", "--initial-cluster", initial,
                                  "--peer-cert-file", str(pki / "peer.crt"), "--peer-key-file", str(pki / "peer.key"),
                                  "--peer-trusted-ca-file", str(pki / "ca.crt"), "--peer-client-cert-auth",
                                  "--peer-secret-file", str(pki / "etcd-peer-secret")])
    urls = [f"http://127.0.0.1:{p}" for p in clients]
    wait_until(lambda: all(_ok(httpx, u + "/health") for u in urls), 60, what="three TLS-peered members healthy")
    put = httpx.post(urls[0] + "/v3/kv/put", content=json.dumps({"key": "YQ==", "value": "Yg=="}), timeout=10)
    assert put.status_code == 200, put.text
    rev = int(put.json()["header"]["revision"])
    for u in urls:  # replicated to every member through the relay
        wait_until(lambda u=u: int(httpx.post(u + "/v3/kv/range", content=json.dumps(
            {"key": "YQ==", "serializable": True})).json()["header"]["revision"]) >= rev, 30, what=f"{u} caught up")
    # the peer port is TLS with client-certificate auth: no certificate, no Raft
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        import socket
        with socket.create_connection(("127.0.0.1", peers[0]), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"x" * 64)
                if not tls.recv(1):  # TLS 1.3 reports the refused certificate on the first read
                    raise ConnectionError("closed by the member")
