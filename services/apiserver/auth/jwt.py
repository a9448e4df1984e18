"""Just enough JOSE for ServiceAccount tokens: compact JWS signed RS256 (RSA) or ES256 (P-256).

kube-apiserver signs with the key in `--service-account-signing-key-file` and accepts tokens
verified by any key in `--service-account-key-file`. The `kid` header is upstream's: the
base64url SHA-256 of the public key's DER (PKIX) encoding, so a verifier picks the right key.
`cryptography` does the signing; PyJWT is not needed for one algorithm family.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class JWTError(ValueError):
    """The token is malformed or its signature does not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(s: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except (ValueError, TypeError) as e:
        raise JWTError("invalid base64url") from e


def key_id(pub: PublicKey) -> str:
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


def _alg(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and key.curve.name == "secp256r1":
        return "ES256"
    raise JWTError("only RSA and P-256 ECDSA keys are supported")


@dataclass(frozen=True)
class Signer:
    key: PrivateKey

    @property
    def kid(self) -> str:
        return key_id(self.key.public_key())

    def sign(self, claims: dict[str, Any]) -> str:
        alg = _alg(self.key)
        header = {"alg": alg, "kid": self.kid}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode())).encode()
        if alg == "RS256":
            sig = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input.decode() + "." + b64url(sig)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def verify(token: str, keys: list[PublicKey]) -> dict[str, Any]:
    """The claims of `token` if one of `keys` verifies its signature; JWTError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("not a compact JWS")
    try:
        header = json.loads(unb64url(parts[0]))
        claims = json.loads(unb64url(parts[1]))
    except (ValueError, UnicodeDecodeError) as e:
        raise JWTError("malformed token") from e
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("malformed token")
    alg = header.get("alg")
    sig = unb64url(parts[2])
    signing_input = (parts[0] + "." + parts[1]).encode()
    kid = header.get("kid")
    for key in keys:
        if _alg(key) != alg or (kid and kid != key_id(key)):
            continue
        try:
            if alg == "RS256":
                key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
            else:
                if len(sig) != 64:
                    continue
                der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
                key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
            return claims
        except InvalidSignature:
            continue
    raise JWTError("invalid signature")


def load_private_key(path: str) -> PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError(f"{path}: not an RSA or ECDSA private key")
    _alg(key)
    return key


def load_public_keys(path: str) -> list[PublicKey]:
    """Every public key in a PEM file: public keys, private keys (their public half) or certificates."""
    data = Path(path).read_bytes()
    keys: list[PublicKey] = []
    for block in data.split(b"-----END ")[:-1]:
        start = block.find(b"-----BEGIN ")
        if start < 0:
            continue
        label = block[start + 11:block.find(b"-----", start + 11)]
        pem = block[start:] + b"-----END " + label + b"-----\n"
        if b"PRIVATE KEY" in label:
            keys.append(serialization.load_pem_private_key(pem, password=None).public_key())  # type: ignore[arg-type]
        elif label == b"CERTIFICATE":
            keys.append(x509.load_pem_x509_certificate(pem).public_key())  # type: ignore[arg-type]
        elif b"PUBLIC KEY" in label:
            keys.append(serialization.load_pem_public_key(pem))  # type: ignore[arg-type]
    keys = [k for k in keys if isinstance(k, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey))]
    if not keys:
        raise ValueError(f"{path}: no RSA or ECDSA key found")
    return keys
