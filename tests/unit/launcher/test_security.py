"""services/launcher/security.py: a cluster's credentials are made once, kept, and usable."""
from __future__ import annotations

import ssl

import yaml
from cryptography import x509

from kubeling.services.launcher.security import ClusterCredentials, identity
from kubeling.shared.kubeconfig import parse


def test_credentials_are_made_once_and_kept(tmp_path):
    creds = ClusterCredentials(tmp_path)
    creds.ensure(("127.0.1.1",), ["admin", "scheduler", "kubelet-node-1"])
    first = {p.name: p.read_bytes() for p in creds.pki.iterdir()}
    creds.ensure(("127.0.1.1",), ["admin", "scheduler", "kubelet-node-1", "kubelet-node-2"])
    again = {p.name: p.read_bytes() for p in creds.pki.iterdir()}
    assert {k: v for k, v in again.items() if k != "tokens.csv"} == {k: v for k, v in first.items() if k != "tokens.csv"}
    tokens = creds.read_tokens()
    assert set(tokens) == {"admin", "scheduler", "kubelet-node-1", "kubelet-node-2"}
    assert len(set(tokens.values())) == 4
    lines = creds.tokens.read_text().splitlines()
    assert f'{tokens["kubelet-node-2"]},system:node:node-2,kubelet-node-2,system:nodes' in lines
    assert creds.tokens.stat().st_mode & 0o777 == 0o600


def test_serving_certificate_covers_the_cluster_names(tmp_path):
    creds = ClusterCredentials(tmp_path)
    creds.ensure(("127.0.1.1",), ["admin"])
    cert = x509.load_pem_x509_certificate(creds.cert("apiserver").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    assert {str(a) for a in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "127.0.1.1"}
    ssl.create_default_context(cafile=str(creds.ca))  # a valid CA bundle
    cfg = yaml.safe_load(creds.encryption_config.read_text())
    assert cfg["resources"][0]["providers"][0]["aescbc"]["keys"][0]["name"] == "key1"


def test_kubeconfig_carries_identity_and_trust(tmp_path):
    creds = ClusterCredentials(tmp_path)
    creds.ensure((), ["admin", "controller-manager"])
    path = creds.write_kubeconfig("controller-manager", "demo", "https://127.0.0.1:6443")
    cfg = parse(path.read_text(), path.parent)
    assert cfg.servers == ["https://127.0.0.1:6443"]
    assert cfg.token == creds.read_tokens()["controller-manager"]
    assert isinstance(cfg.verify, ssl.SSLContext) or cfg.verify not in (True, False)
    assert identity("controller-manager").user == "system:kube-controller-manager"
    assert creds.kubeconfig("admin") == tmp_path / "kubeconfig"


def test_the_store_has_its_own_ca_that_signs_only_what_may_reach_it(tmp_path):
    creds = ClusterCredentials(tmp_path)
    creds.ensure(("127.0.1.1",), ["admin"])
    etcd_ca = x509.load_pem_x509_certificate(creds.etcd_ca.read_bytes())
    ca = x509.load_pem_x509_certificate(creds.ca.read_bytes())
    for stem in ("etcd-server", "apiserver-etcd-client", "healthcheck-client"):
        x509.load_pem_x509_certificate(creds.cert(stem).read_bytes()).verify_directly_issued_by(etcd_ca)
    for stem in ("admin", "apiserver", "apiserver-kubelet-client"):
        cert = x509.load_pem_x509_certificate(creds.cert(stem).read_bytes())
        cert.verify_directly_issued_by(ca)
        assert cert.issuer != etcd_ca.subject
    args = creds.etcd_args()
    assert args[args.index("--trusted-ca-file") + 1] == str(creds.etcd_ca)
    api = creds.apiserver_args()
    assert api[api.index("--etcd-cafile") + 1] == str(creds.etcd_ca)
    # a PKI made before the store had its own CA gets its store certificates issued again
    creds.etcd_ca.unlink()
    old = creds.cert("healthcheck-client").read_bytes()
    creds.ensure(("127.0.1.1",), ["admin"])
    assert creds.cert("healthcheck-client").read_bytes() != old
    x509.load_pem_x509_certificate(creds.cert("healthcheck-client").read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(creds.etcd_ca.read_bytes()))
