"""A launched cluster's credentials, laid out as kubeadm lays out /etc/kubernetes.

`kubeling up` is safe by default, as a kubeadm cluster is:
- one CA (`pki/ca.crt`) signs the apiserver's serving certificate, the kubelets' and the client
  certificates of the API (the admin's `admin.crt`, the apiserver's `apiserver-kubelet-client`);
- the store has its own CA (`pki/etcd-ca.crt`, kubeadm's `pki/etcd/ca.crt`): it signs the store
  members' serving and peer certificates (Raft between members is mutual TLS) and the only client
  certificates the store's `--client-cert-auth` accepts: the apiserver's `apiserver-etcd-client`,
  and `healthcheck-client` for `kubeling status`;
- every component has its own kubeconfig with its own identity, so RBAC and the Node authorizer
  give it only the rights it needs: `admin.conf` (kubernetes-admin in system:masters, for kubectl),
  `scheduler.conf` (system:kube-scheduler), `controller-manager.conf`
  (system:kube-controller-manager), `kubelet-<node>.conf` (system:node:<node> in system:nodes);
  identities are bearer tokens from `pki/tokens.csv` (upstream's --token-auth-file format);
- ServiceAccount tokens are signed with `pki/sa.key` and verified with `pki/sa.pub`;
- Secrets are encrypted at rest with an aescbc key in `pki/encryption-config.yaml`;
- the store members authenticate each Raft message (HMAC-SHA256) with `pki/etcd-peer-secret`,
  32 random bytes made once per cluster, mode 0600 (`--peer-secret-file`; pysyncobj's messages
  are pickles, and the cluster token is on every command line). It authenticates, it does not
  encrypt: the peer TLS does. A cluster made with `--tls=false` gets it too (`ensure_peer_secret`);
- the kubelet API is HTTPS with a serving certificate per node (`pki/kubelet-<node>-server.crt`,
  SAN = the node's address), x509 client authentication and Webhook authorization; the apiserver
  reaches it as `kube-apiserver-kubelet-client` (`pki/apiserver-kubelet-client.crt`), the
  identity kubeadm gives it.
Everything is made once and kept, so `kubeling up` again with the same name finds the same
credentials and the data encrypted with the same key.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kubeling.services.etcd.raftauth import write_secret_file
from kubeling.shared.pki import CertificateAuthority

ADMIN = "admin"
PEER_SECRET = "etcd-peer-secret"  # in pki/: the store members' Raft authentication key
ETCD_CA_SIGNED = ("etcd-server", "etcd-peer", "apiserver-etcd-client", "healthcheck-client")
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
KUBELET_CLIENT = "apiserver-kubelet-client"
# kubeadm (before 1.29) put this certificate in system:masters; since then in kubeadm:cluster-admins,
# a group its init binds to cluster-admin. kubeling's bootstrap policy binds system:masters.
KUBELET_CLIENT_SUBJECT = ("kube-apiserver-kubelet-client", ("system:masters",))


def ensure_peer_secret(root: Path) -> Path:
    """The cluster's Raft peer secret, `root/pki/etcd-peer-secret`: made once (random bytes, 0600
    from creation, raftauth.write_secret_file), kept afterwards. `pki/` itself is made private."""
    pki = root / "pki"
    pki.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = pki / PEER_SECRET
    write_secret_file(path)
    return path


@dataclass(frozen=True)
class Identity:
    """Who a kubeconfig speaks for: upstream's user name and groups for that component."""

    key: str  # admin, scheduler, controller-manager, kubelet-node-1
    user: str
    groups: tuple[str, ...] = ()


def identity(key: str) -> Identity:
    if key == ADMIN:
        return Identity(key, "kubernetes-admin", ("system:masters",))
    if key == "scheduler":
        return Identity(key, "system:kube-scheduler")
    if key == "controller-manager":
        return Identity(key, "system:kube-controller-manager")
    if key.startswith("kubelet-"):
        return Identity(key, f"system:node:{key.removeprefix('kubelet-')}", ("system:nodes",))
    raise ValueError(f"no identity for {key!r}")


class ClusterCredentials:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pki = root / "pki"

    # --- files -------------------------------------------------------------------------------
    @property
    def ca(self) -> Path:
        return self.pki / "ca.crt"

    def cert(self, stem: str) -> Path:
        return self.pki / f"{stem}.crt"

    def key(self, stem: str) -> Path:
        return self.pki / f"{stem}.key"

    @property
    def etcd_ca(self) -> Path:
        return self.pki / "etcd-ca.crt"

    @property
    def peer_secret(self) -> Path:
        return self.pki / PEER_SECRET

    @property
    def tokens(self) -> Path:
        return self.pki / "tokens.csv"

    @property
    def encryption_config(self) -> Path:
        return self.pki / "encryption-config.yaml"

    def kubeconfig(self, key: str) -> Path:
        return self.root / "kubeconfig" if key == ADMIN else self.root / "kubeconfigs" / f"{key}.conf"

    # --- making them -------------------------------------------------------------------------
    def ensure(self, hosts: tuple[str, ...], identities: list[str]) -> None:
        """Create whatever is missing: the CA and keys once, certificates for `hosts`, a token for
        every identity, the store's peer secret. Existing files are kept (a restarted cluster keeps
        its credentials)."""
        ensure_peer_secret(self.root)
        if self.ca.exists():
            ca = CertificateAuthority.load(self.ca, self.key("ca"))
        else:
            ca = CertificateAuthority.create("kubernetes")
            ca.keypair().write(self.pki, "ca")
        # The store's own CA, as kubeadm's /etc/kubernetes/pki/etcd/ca.crt: the store trusts only
        # certificates it signed, which only the apiserver and the health checks hold - not the
        # admin or anything else the cluster CA signs.
        if self.etcd_ca.exists():
            etcd_ca = CertificateAuthority.load(self.etcd_ca, self.key("etcd-ca"))
        else:
            etcd_ca = CertificateAuthority.create("etcd-ca")
            etcd_ca.keypair().write(self.pki, "etcd-ca")
            for stem in ETCD_CA_SIGNED:  # made by an older kubeling with the cluster CA: issue again
                self.cert(stem).unlink(missing_ok=True)
        sans = tuple(dict.fromkeys(("127.0.0.1", "localhost", "kubernetes", "kubernetes.default",
                                    "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", *hosts)))
        issue = {
            "apiserver": dict(common_name="kube-apiserver", hosts=sans, server=True),
            # kubeadm's etcd server certificate is also a client one: `etcdctl --cert server.crt` in the etcd pod
            "etcd-server": dict(common_name="etcd-server", hosts=sans, server=True, client=True),
            # Raft between members is mutual TLS: each member serves and presents this certificate
            "etcd-peer": dict(common_name="etcd-peer", hosts=sans, server=True, client=True),
            "admin": dict(common_name="kubernetes-admin", orgs=("system:masters",), client=True),  # for curl
            "apiserver-etcd-client": dict(common_name="kube-apiserver-etcd-client", client=True),
            "healthcheck-client": dict(common_name="kube-etcd-healthcheck-client", client=True),
            KUBELET_CLIENT: dict(common_name=KUBELET_CLIENT_SUBJECT[0], orgs=KUBELET_CLIENT_SUBJECT[1], client=True),
        }
        for stem, spec in issue.items():
            if not self.cert(stem).exists():
                (etcd_ca if stem in ETCD_CA_SIGNED else ca).issue(**spec).write(self.pki, stem)  # type: ignore[arg-type]
        if not self.key("sa").exists():
            sa = ec.generate_private_key(ec.SECP256R1())
            self.key("sa").touch(mode=0o600)
            self.key("sa").write_bytes(sa.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
            (self.pki / "sa.pub").write_bytes(sa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        if not self.encryption_config.exists():
            self.encryption_config.touch(mode=0o600)
            self.encryption_config.write_text(encryption_config_yaml(base64.b64encode(secrets.token_bytes(32)).decode()))
        tokens = self.read_tokens()
        for key in identities:
            if key not in tokens:
                tokens[key] = secrets.token_hex(16)
        self._write_tokens(tokens)

    def read_tokens(self) -> dict[str, str]:
        """identity key -> token (the identity key is kept in the file's uid column)."""
        if not self.tokens.exists():
            return {}
        with self.tokens.open(newline="") as f:
            return {row[2]: row[0] for row in csv.reader(f) if len(row) >= 3}

    def _write_tokens(self, tokens: dict[str, str]) -> None:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        for key, token in sorted(tokens.items()):
            ident = identity(key)
            w.writerow([token, ident.user, key, ",".join(ident.groups)] if ident.groups else [token, ident.user, key])
        self.tokens.touch(mode=0o600)
        self.tokens.write_text(out.getvalue())

    def write_kubeconfig(self, key: str, cluster: str, server: str) -> Path:
        path = self.kubeconfig(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(kubeconfig_yaml(cluster, server, self.ca.read_bytes(), identity(key).user,
                                        self.read_tokens()[key]))
        return path

    # --- command lines -----------------------------------------------------------------------
    def etcd_args(self) -> list[str]:
        return ["--cert-file", str(self.cert("etcd-server")), "--key-file", str(self.key("etcd-server")),
                "--trusted-ca-file", str(self.etcd_ca), "--client-cert-auth",
                "--peer-cert-file", str(self.cert("etcd-peer")), "--peer-key-file", str(self.key("etcd-peer")),
                "--peer-trusted-ca-file", str(self.etcd_ca), "--peer-client-cert-auth"]

    def apiserver_args(self) -> list[str]:
        return [
            "--tls-cert-file", str(self.cert("apiserver")), "--tls-private-key-file", str(self.key("apiserver")),
            "--client-ca-file", str(self.ca), "--token-auth-file", str(self.tokens),
            "--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
            "--service-account-issuer", SA_ISSUER, "--service-account-key-file", str(self.pki / "sa.pub"),
            "--service-account-signing-key-file", str(self.key("sa")),
            "--encryption-provider-config", str(self.encryption_config),
            "--etcd-cafile", str(self.etcd_ca), "--etcd-certfile", str(self.cert("apiserver-etcd-client")),
            "--etcd-keyfile", str(self.key("apiserver-etcd-client")),
        ]

    def kubelet_apiserver_args(self) -> list[str]:
        """What the apiserver needs to reach secured kubelets: its client certificate and the CA
        that signed their serving certificates (add to `apiserver_args()`)."""
        return ["--kubelet-client-certificate", str(self.cert(KUBELET_CLIENT)),
                "--kubelet-client-key", str(self.key(KUBELET_CLIENT)),
                "--kubelet-certificate-authority", str(self.ca)]

    def ensure_kubelet_serving(self, node: str, ip: str) -> tuple[Path, Path]:
        """The node's kubelet serving certificate (CN system:node:<node>, SAN = its address and
        name, as a kubelet's serverTLSBootstrap CSR asks), issued again when the address changed."""
        stem = f"kubelet-{node}-server"
        crt, key = self.cert(stem), self.key(stem)
        if not crt.exists() or ip not in _san_addresses(crt.read_bytes()):
            ca = CertificateAuthority.load(self.ca, self.key("ca"))
            ca.issue(f"system:node:{node}", orgs=("system:nodes",), hosts=(ip, node), server=True).write(self.pki, stem)
        return crt, key

    def kubelet_args(self, node: str, ip: str, healthz_port: int = 0) -> list[str]:
        """`kubeling node` flags for kubeadm's kubelet configuration: HTTPS with the node's serving
        certificate, client certificates from the cluster CA, bearer tokens checked by TokenReview,
        no anonymous requests, Webhook authorization; `healthz_port` keeps an unauthenticated plain-HTTP /healthz for health checks."""
        crt, key = self.ensure_kubelet_serving(node, ip)
        args = ["--tls-cert-file", str(crt), "--tls-private-key-file", str(key), "--client-ca-file", str(self.ca),
                "--anonymous-auth=false", "--authentication-token-webhook", "--authorization-mode=Webhook"]
        return args + (["--healthz-port", str(healthz_port)] if healthz_port else [])

    def store_client(self) -> tuple[str, tuple[str, str]]:
        """(CA, (cert, key)) for the launcher's own store health checks."""
        return str(self.etcd_ca), (str(self.cert("healthcheck-client")), str(self.key("healthcheck-client")))


def _san_addresses(pem: bytes) -> set[str]:
    """The IP addresses and DNS names a certificate is valid for."""
    from cryptography import x509
    try:
        san = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return set()
    return {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))


def encryption_config_yaml(key_b64: str) -> str:
    return f"""apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources:
  - secrets
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: {key_b64}
  - identity: {{}}
"""


def kubeconfig_yaml(cluster: str, server: str, ca_pem: bytes, user: str, token: str) -> str:
    ca_data = base64.b64encode(ca_pem).decode()
    # Names quoted (JSON strings are YAML): kubectl's YAML reads a bare `y`, `on` or `no` as a boolean.
    cluster, user = json.dumps(cluster), json.dumps(user)
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {cluster}
  cluster:
    server: {server}
    certificate-authority-data: {ca_data}
contexts:
- name: {cluster}
  context:
    cluster: {cluster}
    user: {user}
    namespace: default
current-context: {cluster}
users:
- name: {user}
  user:
    token: {token}
"""
