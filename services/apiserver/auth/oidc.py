"""ServiceAccount issuer discovery: `/.well-known/openid-configuration` and `/openid/v1/jwks`.

With them, anyone trusting the issuer (a cloud provider, Vault, another cluster) can verify
kubeling's ServiceAccount tokens the OIDC way, as with kube-apiserver. The documents are served
only when tokens are verified (`--service-account-key-file` / signing key); RBAC's
system:service-account-issuer-discovery opens them to every ServiceAccount.
"""
from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .jwt import PublicKey, key_id

CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"


def _b64int(n: int, size: int | None = None) -> str:
    raw = n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(key: PublicKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        return {"use": "sig", "kty": "RSA", "kid": key_id(key), "alg": "RS256", "n": _b64int(nums.n), "e": _b64int(nums.e)}
    assert isinstance(key, ec.EllipticCurvePublicKey)
    nums = key.public_numbers()
    return {"use": "sig", "kty": "EC", "kid": key_id(key), "alg": "ES256", "crv": "P-256",
            "x": _b64int(nums.x, 32), "y": _b64int(nums.y, 32)}


def openid_configuration(issuer: str, keys: list[PublicKey]) -> dict[str, Any]:
    algs = sorted({jwk(k)["alg"] for k in keys})
    return {"issuer": issuer, "jwks_uri": issuer.rstrip("/") + JWKS_PATH, "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": algs}


def jwks(keys: list[PublicKey]) -> dict[str, Any]:
    return {"keys": [jwk(k) for k in keys]}
