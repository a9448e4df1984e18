"""Secrets encrypted at rest: the store holds upstream's `k8s:enc:aescbc:v1:key1:` ciphertext, the
API (and kubectl) still returns the plaintext, and resources not configured stay plain."""
from __future__ import annotations

import base64
import json

from .conftest import SecureCluster


def test_secret_is_ciphertext_in_the_store(secure: SecureCluster) -> None:
    admin = secure.kubeconfig("admin", token="admin-token")
    secure.kubectl(admin, "create", "secret", "generic", "db", "--from-literal=password=hunter2-plaintext", check=True)
    raw = secure.store_value("/registry/secrets/default/db")
    assert raw is not None
    assert raw.startswith(b"k8s:enc:aescbc:v1:key1:")
    assert b"hunter2" not in raw and base64.b64encode(b"hunter2-plaintext") not in raw and b'"db"' not in raw
    out = json.loads(secure.kubectl(admin, "get", "secret", "db", "-o", "json", check=True).stdout)
    assert base64.b64decode(out["data"]["password"]) == b"hunter2-plaintext"
    # updates are re-encrypted (a fresh IV each write), lists and watches decrypt
    secure.kubectl(admin, "patch", "secret", "db", "-p", '{"stringData":{"password":"changed"}}', check=True)
    raw2 = secure.store_value("/registry/secrets/default/db")
    assert raw2 is not None and raw2.startswith(b"k8s:enc:aescbc:v1:key1:") and raw2 != raw
    listed = json.loads(secure.kubectl(admin, "get", "secrets", "-o", "json", check=True).stdout)["items"]
    assert [base64.b64decode(s["data"]["password"]) for s in listed if s["metadata"]["name"] == "db"] == [b"changed"]
    # configmaps are not in the EncryptionConfiguration: stored as plain JSON
    secure.kubectl(admin, "create", "configmap", "plain", "--from-literal=k=visible-value", check=True)
    assert b"visible-value" in (secure.store_value("/registry/configmaps/default/plain") or b"")
