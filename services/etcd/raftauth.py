"""Peer message authentication for pysyncobj, from the standard library alone.

pysyncobj sends pickles (pysyncobj/tcp_connection.py loads each message with `pickle.loads`), so
whoever can write to a member's Raft port can run code in it. Its `password` setting guards against that with Fernet from the `cryptography` package: every
message is AES-encrypted and HMAC-signed with a key derived from the password. kubeling keeps the
guard but not the cipher:

- Authentication is what stops forged pickles, and HMAC-SHA256 over each message does it with
  `hmac`/`hashlib`. The per-connection random keys that pysyncobj exchanges ride inside the signed
  payload, so a message replayed onto another connection is refused as with Fernet.
- Confidentiality on the wire is TLS's job, as in etcd: https:// peer URLs put every Raft hop
  between hosts under mutual TLS (peertls.py); with http:// peer URLs the traffic is readable, as
  a real etcd's is, but still cannot be forged. The secret authenticates; it does not encrypt.
- Importing `cryptography` (its Rust extension) costs each store member 7.5 MB of resident memory,
  a sixth of the process; a three-member store is the biggest part of the default cluster.

The key comes from a secret nobody else can read: the content of `--peer-secret-file` (which
`read_secret_file` refuses when empty or readable by group or others, as ssh refuses a loose
private key), or, for a member without peers, random bytes made for this process alone. It is
never derived from a flag: a command line is visible to every local user in `ps`, so a key
derived from `--initial-cluster-token` (as before) let any of them sign a pickle.

Every place pysyncobj 0.3.17 unpickles network data goes through this object first: its only
network `pickle.loads` is `TcpConnection.__processParseMessage` (pysyncobj/tcp_connection.py),
which checks the signature (`extract_timestamp`, `decrypt`) before loading whenever the
connection has an encryptor; the transport gives one to every outgoing connection (`addNode`)
and to every accepted one before its first read (`_onNewIncomingConnection`,
pysyncobj/transport.py), which covers member connections, the handshake's random keys,
read-only nodes and the `syncobj_admin` utility commands alike. Large entries and snapshots
that pysyncobj reassembles and unpickles (`SyncObj.__onMessageReceived`, the serializer) arrive
only in messages that already passed here.

The object implements the three calls pysyncobj's TcpConnection makes on `conn.encryptor`
(`encrypt_at_time`, `extract_timestamp`, `decrypt`), in a byte format of its own (members of one
kubeling version talk to each other; the format is not Fernet's). Any malformed or forged message
raises, and pysyncobj answers that by dropping the connection.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import struct
from pathlib import Path

# A distinct salt from pysyncobj's, so the same password never yields the same key in both schemes.
_SALT = b"kubeling raft peer authentication v1"
_ITERATIONS = 100_000  # as pysyncobj's PBKDF2: a secret file holding a passphrase is not cheap to guess
_VERSION = b"\x01"
_HEADER = struct.Struct(">cQ")  # version, sender's timestamp (seconds)
_MAC_LEN = hashlib.sha256().digest_size
SECRET_BYTES = 32  # what `kubeling up` and `kubeling certs` write: 256 random bits


class ForgedMessage(ValueError):
    """A message whose signature does not match: not from a member that knows the secret."""


class PeerSecretError(ValueError):
    """--peer-secret-file cannot be used: missing, empty, or readable by others."""


def read_secret_file(path: str | os.PathLike[str]) -> bytes:
    """The peer secret: the file's bytes, exactly as written (every member reads the same file).

    Refused, as ssh refuses a private key "accessible by others", when the file's mode gives
    group or others any access, or when it is empty; only the process's own user or root may
    own it. The checks are made on the open file, so the file read is the file checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise PeerSecretError(f"--peer-secret-file {path}: {e.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise PeerSecretError(f"--peer-secret-file {path}: not a regular file")
    with os.fdopen(fd, "rb") as f:
        if st.st_mode & 0o077:
            raise PeerSecretError(
                f"--peer-secret-file {path}: permissions {stat.S_IMODE(st.st_mode):04o} are too open; the peer "
                f"secret must be readable by its owner only (chmod 600 {path})")
        if st.st_uid not in (os.geteuid(), 0):
            raise PeerSecretError(f"--peer-secret-file {path}: owned by uid {st.st_uid}, not by this user "
                                  f"(uid {os.geteuid()}) or root")
        secret = f.read()
    if not secret:
        raise PeerSecretError(f"--peer-secret-file {path}: the file is empty")
    return secret


def write_secret_file(path: Path) -> bool:
    """Create `path` with SECRET_BYTES random bytes, mode 0600 from its first byte on (never a
    moment readable by others), unless it exists. True when written.

    The bytes go to a private temporary file first and are linked into place: a concurrent
    writer or a crash never leaves a partial secret under `path`, and if two writers race,
    the first link wins and both end up using its secret."""
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(SECRET_BYTES))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


class MessageAuthenticator:
    """Signs and checks pysyncobj peer messages with HMAC-SHA256 under a key derived from the
    cluster's peer secret (the content of --peer-secret-file)."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes):
            raise TypeError("the peer secret is bytes (a file's content), never a flag's text")
        if not secret:
            raise ValueError("the peer secret must not be empty")
        self._key = hashlib.pbkdf2_hmac("sha256", secret, _SALT, _ITERATIONS)

    def _mac(self, signed: bytes) -> bytes:
        return hmac.new(self._key, signed, hashlib.sha256).digest()

    # -- the calls pysyncobj makes (names are pysyncobj's, after Fernet's) ------------------------

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
        """`data` signed (not encrypted), with the sender's timestamp, which pysyncobj checks never
        goes back. The name is pysyncobj's."""
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
