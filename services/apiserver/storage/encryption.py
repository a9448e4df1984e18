"""Encryption at rest (`--encryption-provider-config`, upstream's EncryptionConfiguration).

Values of the configured resources are transformed on their way to the store and back, inside
the store client, so everything above (registry, watch cache) sees plaintext and the store sees
ciphertext. The stored format is upstream's, so a store written by kube-apiserver reads here:
- aescbc: `k8s:enc:aescbc:v1:<key name>:` + 16-byte IV + AES-CBC(PKCS#7) ciphertext;
- aesgcm: `k8s:enc:aesgcm:v1:<key name>:` + 12-byte nonce + AES-GCM ciphertext and tag, with the
  store key as authenticated data (a value moved to another key does not decrypt);
- identity: plaintext, no prefix.
The first provider (first key) writes; every provider reads what carries its prefix, so keys can
be rotated by adding a new first key. secretbox and KMS are not supported (PyNaCl and a KMS
plugin are not dependencies).
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENC_PREFIX = b"k8s:enc:"


class EncryptionConfigError(ValueError):
    """The EncryptionConfiguration file is not usable."""


class DecryptError(ValueError):
    """A stored value cannot be decrypted with any configured key."""


@dataclass(frozen=True)
class AESKey:
    mode: str  # aescbc | aesgcm
    name: str
    secret: bytes

    @property
    def prefix(self) -> bytes:
        return f"k8s:enc:{self.mode}:v1:{self.name}:".encode()

    def encrypt(self, key: str, data: bytes) -> bytes:
        if self.mode == "aesgcm":
            nonce = os.urandom(12)
            return self.prefix + nonce + AESGCM(self.secret).encrypt(nonce, data, key.encode())
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        enc = Cipher(algorithms.AES(self.secret), modes.CBC(iv)).encryptor()
        return self.prefix + iv + enc.update(padder.update(data) + padder.finalize()) + enc.finalize()

    def decrypt(self, key: str, value: bytes) -> bytes:
        body = value[len(self.prefix):]
        try:
            if self.mode == "aesgcm":
                return AESGCM(self.secret).decrypt(body[:12], body[12:], key.encode())
            if len(body) < 32 or len(body) % 16:
                raise ValueError("the stored data is not a whole number of AES blocks")
            dec = Cipher(algorithms.AES(self.secret), modes.CBC(body[:16])).decryptor()
            unpadder = padding.PKCS7(128).unpadder()
            return unpadder.update(dec.update(body[16:]) + dec.finalize()) + unpadder.finalize()
        except (InvalidTag, ValueError) as e:
            raise DecryptError(f"{key}: cannot decrypt with {self.mode} key {self.name!r}: {e}") from None


@dataclass
class ResourceTransformer:
    """The providers of one `resources:` entry: write with the first, read with any."""

    writer: AESKey | None  # None = identity
    readers: list[AESKey]
    identity_reads: bool

    def to_storage(self, key: str, data: bytes) -> bytes:
        return self.writer.encrypt(key, data) if self.writer else data

    def from_storage(self, key: str, value: bytes) -> bytes:
        if not value.startswith(ENC_PREFIX):
            if self.identity_reads or not value:
                return value
            raise DecryptError(f"{key}: stored unencrypted, but the identity provider is not configured")
        for k in self.readers:
            if value.startswith(k.prefix):
                return k.decrypt(key, value)
        raise DecryptError(f"{key}: no matching prefix found (no configured key for {value[:40]!r})")


class Transformer:
    """Maps store keys (`/registry/<resource>/...`) to their resource's transformer."""

    def __init__(self, by_resource: dict[str, ResourceTransformer]) -> None:
        self.by_resource = by_resource
        self.default = by_resource.get("*")

    def _for(self, key: str) -> ResourceTransformer | None:
        if not key.startswith("/registry/"):
            return None
        resource = key[len("/registry/"):].split("/", 1)[0]
        return self.by_resource.get(resource, self.default)

    def to_storage(self, key: str, data: bytes) -> bytes:
        t = self._for(key)
        return t.to_storage(key, data) if t else data

    def from_storage(self, key: str, value: bytes) -> bytes:
        t = self._for(key)
        return t.from_storage(key, value) if t else value


def _keys(mode: str, spec: Any) -> list[AESKey]:
    out = []
    for k in (spec or {}).get("keys") or []:
        name, secret = k.get("name"), k.get("secret")
        if not name or not secret:
            raise EncryptionConfigError(f"{mode}: every key needs a name and a secret")
        try:
            raw = base64.b64decode(secret, validate=True)
        except ValueError:
            raise EncryptionConfigError(f"{mode} key {name!r}: secret is not valid base64") from None
        if len(raw) not in (16, 24, 32):
            raise EncryptionConfigError(f"{mode} key {name!r}: secret must be 16, 24 or 32 bytes, got {len(raw)}")
        out.append(AESKey(mode, name, raw))
    if not out:
        raise EncryptionConfigError(f"{mode}: at least one key is required")
    return out


def parse_config(text: str) -> Transformer:
    doc = yaml.safe_load(text) or {}
    if doc.get("kind") != "EncryptionConfiguration" or doc.get("apiVersion") not in ("apiserver.config.k8s.io/v1", "v1"):
        raise EncryptionConfigError("want kind: EncryptionConfiguration, apiVersion: apiserver.config.k8s.io/v1")
    by_resource: dict[str, ResourceTransformer] = {}
    for entry in doc.get("resources") or []:
        readers: list[AESKey] = []
        writer: AESKey | None = None
        identity = False
        first = True
        for provider in entry.get("providers") or []:
            (mode, spec), = provider.items() if isinstance(provider, dict) and len(provider) == 1 else [(None, None)]
            if mode == "identity":
                identity = True
                keys: list[AESKey] = []
            elif mode in ("aescbc", "aesgcm"):
                keys = _keys(mode, spec)
            else:
                raise EncryptionConfigError(f"unsupported provider {mode!r} (kubeling supports aescbc, aesgcm, identity)")
            if first:
                writer = keys[0] if keys else None
                first = False
            readers.extend(keys)
        if first:
            raise EncryptionConfigError("each resources entry needs at least one provider")
        for r in entry.get("resources") or []:
            name = str(r)
            if name in ("*.*", "*."):
                name = "*"
            elif "." in name:  # deployments.apps -> the store's /registry/deployments/
                name = name.split(".", 1)[0]
            by_resource.setdefault(name, ResourceTransformer(writer, readers, identity))
    if not by_resource:
        raise EncryptionConfigError("no resources are configured")
    return Transformer(by_resource)


def load(path: str) -> Transformer:
    return parse_config(Path(path).read_text())
