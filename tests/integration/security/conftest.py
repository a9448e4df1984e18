"""One secured apiserver for the package, started the way `kubeling up` runs it safely: HTTPS with
a cluster CA, X.509 client certificates, a token file with one identity per component,
ServiceAccount token keys, `--authorization-mode=Node,RBAC`, NodeRestriction, and Secrets
encrypted at rest. Everything is a real process over loopback; kubectl is the real one.
"""
from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubeling.shared.pki import CertificateAuthority

from tests.integration.apiserver.conftest import start_store
from tests.support.procs import Proc, ProcGroup, free_port, wait_until

# token -> (user, groups)
IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin-token": ("kubernetes-admin", ("system:masters",)),
    "alice-token": ("alice", ()),
    "scheduler-token": ("system:kube-scheduler", ()),
    "cm-token": ("system:kube-controller-manager", ()),
    "node-a-token": ("system:node:node-a", ("system:nodes",)),
    "node-b-token": ("system:node:node-b", ("system:nodes",)),
    "e2e-1-token": ("system:node:e2e-1", ("system:nodes",)),
    "e2e-2-token": ("system:node:e2e-2", ("system:nodes",)),
    "kapi-1-token": ("system:node:kapi-1", ("system:nodes",)),
}
ENCRYPTION_KEY = base64.b64encode(bytes(range(32))).decode()


class SecureCluster:
    def __init__(self, base: Path, group: ProcGroup) -> None:
        self.base = base
        self.group = group
        self.ca = CertificateAuthority.create()
        self.ca_path = base / "ca.crt"
        self.ca_path.write_bytes(self.ca.cert_pem)
        self.tls = ssl.create_default_context(cafile=str(self.ca_path))
        self.home = base / "home"
        self.home.mkdir(exist_ok=True)
        self.url = ""
        self.store_url = ""
        self.api: Proc | None = None

    # --- files ----------------------------------------------------------------------------------
    def write_credentials(self) -> list[str]:
        """The apiserver's security flags, with every file they name."""
        b = self.base
        self.ca.issue("kube-apiserver", hosts=("127.0.0.1", "localhost"), server=True).write(b, "apiserver")
        (b / "tokens.csv").write_text("".join(f'{t},{u},{u},"{",".join(g)}"\n' for t, (u, g) in IDENTITIES.items()))
        sa = ec.generate_private_key(ec.SECP256R1())
        self.sa_key = b / "sa.key"
        self.sa_key.write_bytes(sa.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        (b / "sa.pub").write_bytes(sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo))
        (b / "encryption.yaml").write_text(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n"
            f"  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: {ENCRYPTION_KEY}\n  - identity: {{}}\n")
        self.apiserver_flags = ["--tls-cert-file", str(b / "apiserver.crt"), "--tls-private-key-file", str(b / "apiserver.key"),
                "--client-ca-file", str(self.ca_path), "--token-auth-file", str(b / "tokens.csv"),
                "--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
                "--service-account-key-file", str(b / "sa.pub"), "--service-account-signing-key-file", str(self.sa_key),
                "--encryption-provider-config", str(b / "encryption.yaml")]
        return self.apiserver_flags

    def kubelet_client_flags(self) -> list[str]:
        """kubeadm's apiserver -> kubelet credentials: the `apiserver-kubelet-client` certificate
        (CN kube-apiserver-kubelet-client, in system:masters) and the CA of kubelets' serving certificates."""
        b = self.base
        if not (b / "apiserver-kubelet-client.crt").exists():
            self.ca.issue("kube-apiserver-kubelet-client", orgs=("system:masters",), client=True).write(b, "apiserver-kubelet-client")
        return ["--kubelet-client-certificate", str(b / "apiserver-kubelet-client.crt"),
                "--kubelet-client-key", str(b / "apiserver-kubelet-client.key"),
                "--kubelet-certificate-authority", str(self.ca_path)]

    def kubelet_serving_flags(self, node: str, ip: str) -> list[str]:
        """A node agent's kubelet API secured as kubeadm configures it: HTTPS with a serving
        certificate for its address, client certificates from the cluster CA, bearer tokens checked
        by TokenReview, no anonymous requests, Webhook authorization."""
        self.ca.issue(f"system:node:{node}", orgs=("system:nodes",), hosts=(ip,), server=True).write(self.base, f"kubelet-{node}")
        return ["--tls-cert-file", str(self.base / f"kubelet-{node}.crt"),
                "--tls-private-key-file", str(self.base / f"kubelet-{node}.key"),
                "--client-ca-file", str(self.ca_path), "--anonymous-auth=false", "--authentication-token-webhook",
                "--authorization-mode=Webhook"]

    # --- clients --------------------------------------------------------------------------------
    def client(self, token: str | None = None, cert: tuple[str, str] | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, verify=self._tls(cert), headers=headers, timeout=30)

    def _tls(self, cert: tuple[str, str] | None) -> ssl.SSLContext:
        if cert is None:
            return self.tls
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        ctx.load_cert_chain(*cert)
        return ctx

    def kubeconfig(self, name: str, token: str | None = None, cert_pem: bytes | None = None,
                   key_pem: bytes | None = None, server: str | None = None) -> Path:
        """A kubeconfig with inline credentials (certificate-authority-data, token or client-certificate-data)."""
        user: dict[str, str] = {"token": token} if token else {}
        if cert_pem and key_pem:
            user = {"client-certificate-data": base64.b64encode(cert_pem).decode(),
                    "client-key-data": base64.b64encode(key_pem).decode()}
        doc = {"apiVersion": "v1", "kind": "Config",
               "clusters": [{"name": "k", "cluster": {"server": server or self.url,
                                                     "certificate-authority-data": base64.b64encode(self.ca.cert_pem).decode()}}],
               "users": [{"name": name, "user": user}],
               "contexts": [{"name": "k", "context": {"cluster": "k", "user": name, "namespace": "default"}}],
               "current-context": "k"}
        p = self.base / f"{name}.kubeconfig"
        p.write_text(yaml.safe_dump(doc))
        return p

    def kubectl(self, kubeconfig: Path, *args: str, input: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(self.home))
        res = subprocess.run(["kubectl", f"--cache-dir={self.home}/cache-{kubeconfig.stem}", *args], input=input,
                             capture_output=True, text=True, env=env, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed rc={res.returncode}\n{res.stdout}\n{res.stderr}")
        return res

    def store_value(self, key: str) -> bytes | None:
        """The raw value of a store key, read from the store itself (not through the apiserver)."""
        r = httpx.post(self.store_url + "/v3/kv/range", json={"key": base64.b64encode(key.encode()).decode()}, timeout=10)
        kvs = r.json().get("kvs") or []
        return base64.b64decode(kvs[0]["value"]) if kvs else None


def start_secure_apiserver(c: SecureCluster, extra: list[str] | None = None) -> None:
    c.store_url = start_store(c.group, c.base)
    port = free_port()
    c.url = f"https://127.0.0.1:{port}"
    c.api = c.group.start("apiserver", ["apiserver", f"--etcd-servers={c.store_url}", "--bind-address", "127.0.0.1",
                                        "--secure-port", str(port), "--service-cluster-ip-range", "10.96.0.0/16",
                                        *c.write_credentials(), *(extra or [])])

    def ready() -> bool:
        assert c.api is not None
        if not c.api.alive():
            raise RuntimeError("apiserver exited:\n" + c.api.log_tail())
        return httpx.get(c.url + "/readyz", verify=c.tls, timeout=2).status_code == 200
    wait_until(ready, timeout=60, what="secure apiserver /readyz")


def start_another_apiserver(c: SecureCluster, extra: list[str]) -> tuple[Proc, str]:
    """A second apiserver on the same store with the same credentials plus `extra` flags (several
    apiservers may serve one store), so a test can change the apiserver without touching the
    package's; returns it and its URL once it is ready."""
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    proc = c.group.start(f"apiserver-{port}", ["apiserver", f"--etcd-servers={c.store_url}", "--bind-address", "127.0.0.1",
                                               "--secure-port", str(port), "--service-cluster-ip-range", "10.96.0.0/16",
                                               *c.apiserver_flags, *extra])

    def ready() -> bool:
        if not proc.alive():
            raise RuntimeError("apiserver exited:\n" + proc.log_tail())
        return httpx.get(url + "/readyz", verify=c.tls, timeout=2).status_code == 200
    wait_until(ready, timeout=60, what="second secure apiserver /readyz")
    return proc, url


def _need(ok: bool, why: str) -> None:
    """A missing external tool fails under CI (which installs it) and skips elsewhere."""
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="package")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureCluster]:
    _need(shutil.which("kubectl") is not None, "kubectl is not installed")
    base = tmp_path_factory.mktemp("security")
    c = SecureCluster(base, ProcGroup(base))
    try:
        start_secure_apiserver(c)
        c.admin = c.client("admin-token")  # type: ignore[attr-defined]
        yield c
        c.admin.close()  # type: ignore[attr-defined]
    finally:
        c.group.stop_all()
        if os.environ.get("KUBELING_TEST_SHOW_LOGS"):
            for p in c.group.procs:
                sys.stderr.write(f"==== {p.name}\n{p.log_tail(200)}\n")


def status_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert body.get("kind") == "Status", body
    return body
