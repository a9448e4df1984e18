"""The stdlib authenticator that stands in for pysyncobj's Fernet password layer."""
from __future__ import annotations

import pytest

from kubeling.services.etcd.raftauth import ForgedMessage, MessageAuthenticator


def test_a_member_with_the_same_secret_reads_what_another_signed():
    a, b = MessageAuthenticator("cluster-token"), MessageAuthenticator("cluster-token")
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
    auth = MessageAuthenticator("cluster-token")
    token = auth.encrypt_at_time(b"payload", 1234)
    with pytest.raises(ForgedMessage):
        auth.decrypt(tamper(token))
    with pytest.raises(ForgedMessage):
        auth.extract_timestamp(tamper(token))


def test_a_member_with_another_secret_cannot_forge():
    token = MessageAuthenticator("attacker").encrypt_at_time(b"payload", 1)
    with pytest.raises(ForgedMessage):
        MessageAuthenticator("cluster-token").decrypt(token)


def test_an_empty_secret_is_refused():
    with pytest.raises(ValueError):
        MessageAuthenticator("")
