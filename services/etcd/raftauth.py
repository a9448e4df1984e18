"""Peer message authentication for pysyncobj, from the standard library alone.

pysyncobj sends pickles, so whoever can write to a member's Raft port can run code in it
(reference/pysyncobj.md, pitfall 1). Its `password` setting guards against that with Fernet from
the `cryptography` package: every message is AES-encrypted and HMAC-signed with a key derived
from the password. kubeling keeps the guard but not the cipher:

- Authentication is what stops forged pickles, and HMAC-SHA256 over each message does it with
  `hmac`/`hashlib`. The per-connection random keys that pysyncobj exchanges ride inside the signed
  payload, so a message replayed onto another connection is refused as with Fernet.
- Confidentiality on the wire is TLS's job, as in etcd: https:// peer URLs put every Raft hop
  between hosts under mutual TLS (peertls.py); with http:// peer URLs the traffic is readable, as
  a real etcd's is, but still cannot be forged.
- Importing `cryptography` (its Rust extension) costs each store member 7.5 MB of resident memory,
  a sixth of the process; a three-member store is the biggest part of the default cluster.

The object implements the three calls pysyncobj's TcpConnection makes on `conn.encryptor`
(`encrypt_at_time`, `extract_timestamp`, `decrypt`), in a byte format of its own (members of one
kubeling version talk to each other; the format is not Fernet's). Any malformed or forged message
raises, and pysyncobj answers that by dropping the connection.
"""
from __future__ import annotations

import hashlib
import hmac
import struct

# A distinct salt from pysyncobj's, so the same password never yields the same key in both schemes.
_SALT = b"kubeling raft peer authentication v1"
_ITERATIONS = 100_000  # as pysyncobj's PBKDF2: a low-entropy cluster token is not cheap to guess
_VERSION = b"\x01"
_HEADER = struct.Struct(">cQ")  # version, sender's timestamp (seconds)
_MAC_LEN = hashlib.sha256().digest_size


class ForgedMessage(ValueError):
    """A message whose signature does not match: not from a member that knows the secret."""


class MessageAuthenticator:
    """Signs and checks pysyncobj peer messages with HMAC-SHA256 under a key derived from the
    cluster's peer secret (the cluster token, or the content of --peer-secret-file)."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if not raw:
            raise ValueError("the peer secret must not be empty")
        self._key = hashlib.pbkdf2_hmac("sha256", raw, _SALT, _ITERATIONS)

    def _mac(self, signed: bytes) -> bytes:
        return hmac.new(self._key, signed, hashlib.sha256).digest()

    # -- the calls pysyncobj makes (names are pysyncobj's, after Fernet's) ------------------------

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
        """`data` signed, with the sender's timestamp, which pysyncobj checks never goes back."""
        signed = _HEADER.pack(_VERSION, current_time) + data
        return signed + self._mac(signed)

    def extract_timestamp(self, token: bytes) -> int:
        """The timestamp of a message, only once its signature has been checked."""
        self._verified(token)
        return _HEADER.unpack_from(token)[1]

    def decrypt(self, token: bytes) -> bytes:
        """The payload of a genuine message; raises ForgedMessage otherwise."""
        return self._verified(token)[_HEADER.size:]

    def _verified(self, token: bytes) -> bytes:
        if len(token) < _HEADER.size + _MAC_LEN or token[:1] != _VERSION:
            raise ForgedMessage("malformed peer message")
        signed, mac = token[:-_MAC_LEN], token[-_MAC_LEN:]
        if not hmac.compare_digest(mac, self._mac(signed)):
            raise ForgedMessage("peer message signature mismatch")
        return signed
