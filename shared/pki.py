"""A cluster's certificates, as `kubeadm init phase certs` makes them (with `cryptography`).

One CA signs serving certificates (the apiserver's, the store members') and client certificates
(the apiserver as the store's client, the admin, the components). As upstream, a client
certificate's Subject CN is the user name and its O entries are the groups, so the same
certificate works for X.509 authentication (`system:masters` for the admin) and for the store's
`--client-cert-auth`. Keys are ECDSA P-256: as safe as kubeadm's RSA-2048, and generated in
milliseconds, which matters when every `kubeling up --tls` and every test makes a fresh PKI.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650      # kubeadm: 10 years for the CA
LEAF_DAYS = 365     # kubeadm: 1 year for everything it signs


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class KeyPair:
    """A signed certificate and its key, PEM-encoded, ready to write or to embed in a kubeconfig."""
    cert: bytes
    key: bytes

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write `<stem>.crt` and `<stem>.key` (0600), as kubeadm lays out /etc/kubernetes/pki."""
        directory.mkdir(parents=True, exist_ok=True)
        crt, key = directory / f"{stem}.crt", directory / f"{stem}.key"
        crt.write_bytes(self.cert)
        key.touch(mode=0o600)
        key.write_bytes(self.key)
        return crt, key


class CertificateAuthority:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self.key = key

    @classmethod
    def create(cls, common_name: str = "kubernetes") -> CertificateAuthority:
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        name = _name(common_name)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_key_usage(ca=True), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path}: expected an EC private key")
        return cls(cert, key)

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.cert)

    def keypair(self) -> KeyPair:
        return KeyPair(cert_pem(self.cert), key_pem(self.key))

    def issue(self, common_name: str, *, orgs: tuple[str, ...] = (), hosts: tuple[str, ...] = (),
              server: bool = False, client: bool = False, days: int = LEAF_DAYS) -> KeyPair:
        """Sign a leaf certificate. `hosts` become SANs (IP addresses or DNS names); a serving
        certificate needs them, since clients check the SAN, never the CN."""
        if not (server or client):
            raise ValueError("a certificate must be for a server, a client, or both")
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        b = (x509.CertificateBuilder().subject_name(_name(common_name, orgs)).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(_key_usage(ca=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False))
        if hosts:
            b = b.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        return KeyPair(cert_pem(b.sign(self.key, hashes.SHA256())), key_pem(key))


def _key_usage(ca: bool) -> x509.KeyUsage:
    """kubeadm's key usages: signing (and, for the CA, certificates and CRLs)."""
    return x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=ca, crl_sign=ca,
                         content_commitment=False, data_encipherment=False, key_agreement=False,
                         encipher_only=False, decipher_only=False)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def subject_of(cert_der_or_pem: bytes) -> tuple[str, tuple[str, ...]]:
    """(CN, O...) of a client certificate: the user and groups X.509 authentication maps it to."""
    cert = (x509.load_pem_x509_certificate(cert_der_or_pem) if cert_der_or_pem.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(cert_der_or_pem))
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(cns[0].value) if cns else ""), tuple(str(o.value) for o in orgs)
