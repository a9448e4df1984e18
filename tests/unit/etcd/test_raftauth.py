"""The stdlib authenticator that stands in for pysyncobj's Fernet password layer."""
from __future__ import annotations

import stat
import threading

import pytest

from kubeling.services.etcd.raftauth import (
    SECRET_BYTES,
    ForgedMessage,
    MessageAuthenticator,
    PeerSecretError,
    read_secret_file,
    write_secret_file,
)


def test_a_member_with_the_same_secret_reads_what_another_signed():
    a, b = MessageAuthenticator(b"cluster-secret"), MessageAuthenticator(b"cluster-secret")
    token = a.encrypt_at_time(b"payload", 1234)
    assert b.extract_timestamp(token) == 1234
    assert b.decrypt(token) == b"payload"


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + bytes([t[-1] ^ 1]),           # signature bit flipped
    lambda t: t[:9] + b"X" + t[10:],                  # payload changed
    lambda t: t[:1] + (999).to_bytes(8, "big") + t[9:],  # timestamp changed
    lambda t: b"\x02" + t[1:],                        # unknown version
    lambda t: t[:20],                                 # truncated
    lambda t: b"",
])
def test_a_tampered_message_is_refused(tamper):
    auth = MessageAuthenticator(b"cluster-secret")
    token = auth.encrypt_at_time(b"payload", 1234)
    with pytest.raises(ForgedMessage):
        auth.decrypt(tamper(token))
    with pytest.raises(ForgedMessage):
        auth.extract_timestamp(tamper(token))


def test_a_member_with_another_secret_cannot_forge():
    token = MessageAuthenticator(b"attacker").encrypt_at_time(b"payload", 1)
    with pytest.raises(ForgedMessage):
        MessageAuthenticator(b"cluster-secret").decrypt(token)


def test_an_empty_secret_is_refused():
    with pytest.raises(ValueError):
        MessageAuthenticator(b"")


def test_a_flag_s_text_is_not_a_secret():
    with pytest.raises(TypeError):
        MessageAuthenticator("kubeling-t")  # type: ignore[arg-type]


def test_the_secret_file_is_private_from_its_first_byte_and_read_back_as_written(tmp_path):
    path = tmp_path / "etcd-peer-secret"
    assert write_secret_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = read_secret_file(path)
    assert len(secret) == SECRET_BYTES
    assert not write_secret_file(path) and read_secret_file(path) == secret  # kept, never replaced
    assert [p.name for p in tmp_path.iterdir()] == ["etcd-peer-secret"]  # no temporary file left


def test_concurrent_writers_agree_on_one_secret(tmp_path):
    path = tmp_path / "etcd-peer-secret"
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(write_secret_file(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert len(read_secret_file(path)) == SECRET_BYTES


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o700 | 0o020])
def test_a_secret_file_others_can_access_is_refused(tmp_path, mode):
    path = tmp_path / "s"
    path.write_bytes(b"x" * 32)
    path.chmod(mode)
    with pytest.raises(PeerSecretError, match="too open"):
        read_secret_file(path)


def test_an_empty_or_missing_secret_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.touch(mode=0o600)
    with pytest.raises(PeerSecretError, match="empty"):
        read_secret_file(empty)
    with pytest.raises(PeerSecretError, match="No such file"):
        read_secret_file(tmp_path / "absent")
    with pytest.raises(PeerSecretError, match="not a regular file"):
        read_secret_file(tmp_path)
