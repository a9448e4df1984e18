"""TLS serving with optional X.509 client certificates.

uvicorn verifies client certificates against `--client-ca-file` (ssl CERT_OPTIONAL: a client may
also come with a token instead) but does not put the verified certificate in the ASGI scope.
A thin subclass of uvicorn's HTTP protocol records each TLS connection's peer certificate by the
connection's client address, which the request's scope carries; the authenticator reads it there.
Upgraded connections (WebSocket exec) keep the same transport and address, so they are covered too.
"""
from __future__ import annotations

import asyncio
import ssl
from typing import Any

from cryptography import x509

PEER_CERTS: dict[tuple[str, int], bytes] = {}


def protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's auto-selected HTTP protocol, extended to remember the peer certificate."""
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string
    base: Any = import_from_string(HTTP_PROTOCOLS["auto"])

    class PeerCertProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_obj: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
            peer = transport.get_extra_info("peername")
            self._peer_key = (peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 else None
            if self._peer_key is None:
                return
            der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
            if der:
                PEER_CERTS[self._peer_key] = der
            else:
                PEER_CERTS.pop(self._peer_key, None)

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            if getattr(self, "_peer_key", None) is not None:
                PEER_CERTS.pop(self._peer_key, None)

    return PeerCertProtocol


def peer_certificate(scope: dict[str, Any]) -> x509.Certificate | None:
    """The verified client certificate of the connection that carried this request, if any."""
    if scope.get("scheme") not in ("https", "wss"):
        return None
    client = scope.get("client")
    der = PEER_CERTS.get((client[0], client[1])) if client else None
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None
