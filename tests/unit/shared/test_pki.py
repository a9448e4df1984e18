"""shared/pki.py: certificates that TLS stacks accept, with kubeadm's identity conventions."""
from __future__ import annotations

import ssl

import pytest
from cryptography import x509

from kubeling.shared.pki import CertificateAuthority, subject_of


def test_client_certificate_carries_user_and_groups():
    ca = CertificateAuthority.create()
    kp = ca.issue("kubernetes-admin", orgs=("system:masters", "kubeadm:cluster-admins"), client=True)
    assert subject_of(kp.cert) == ("kubernetes-admin", ("system:masters", "kubeadm:cluster-admins"))
    cert = x509.load_pem_x509_certificate(kp.cert)
    cert.verify_directly_issued_by(ca.cert)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_serving_certificate_has_sans_and_loads_into_ssl(tmp_path):
    ca = CertificateAuthority.create()
    crt, key = ca.issue("kube-apiserver", hosts=("127.0.0.1", "localhost"), server=True).write(tmp_path, "apiserver")
    sans = x509.load_pem_x509_certificate(crt.read_bytes()).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert key.stat().st_mode & 0o777 == 0o600
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)  # raises if the pair does not match


def test_ca_round_trips_through_files(tmp_path):
    ca = CertificateAuthority.create("etcd-ca")
    crt, key = ca.keypair().write(tmp_path, "ca")
    again = CertificateAuthority.load(crt, key)
    x509.load_pem_x509_certificate(again.issue("x", client=True).cert).verify_directly_issued_by(ca.cert)
    with pytest.raises(ValueError):
        ca.issue("nothing")


def test_kubeconfig_with_inline_certificates_gives_one_ssl_context():
    import base64

    from kubeling.shared.kubeconfig import KubeconfigError, parse

    ca = CertificateAuthority.create()
    kp = ca.issue("kubernetes-admin", orgs=("system:masters",), client=True)
    b = lambda data: base64.b64encode(data).decode()  # noqa: E731
    text = f"""
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:6443", certificate-authority-data: {b(ca.cert_pem)}}}}}]
users: [{{name: u, user: {{client-certificate-data: {b(kp.cert)}, client-key-data: {b(kp.key)}}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
current-context: c
"""
    cfg = parse(text)
    assert isinstance(cfg.verify, ssl.SSLContext) and cfg.cert is None
    assert [c["subject"] for c in cfg.verify.get_ca_certs()] == [((("commonName", "kubernetes"),),)]
    with pytest.raises(KubeconfigError):
        parse(text.replace(b(kp.key), b(ca.issue("other", client=True).key)))
