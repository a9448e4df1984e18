"""The apiserver's HTTP/1.1 connection handling: uvicorn's protocol, bounded as Go's net/http
server bounds kube-apiserver's.

uvicorn (httptools) parses request heads without a size limit, has no timeout for a head that
trickles in, and answers a request it cannot parse with plain text. kube-apiserver runs on Go's
net/http with `MaxHeaderBytes` left at http.DefaultMaxHeaderBytes (1 MiB) and
`ReadHeaderTimeout` 32 s (staging/src/k8s.io/apiserver/pkg/server/secure_serving.go). So:

- a head (request line and headers) over MAX_HEAD bytes is refused with 431;
- a head not complete HEAD_TIMEOUT seconds after its first byte, or after the connection
  opened, is refused with 408;
- a request httptools cannot parse (a bad Content-Length, a control character in the target,
  an unknown method token) is a 400;

each answered with a `Status` (clients decode one from every error), then the connection is
closed the way Go's closeWriteAndWait closes it: our side first, the rest of the request
discarded for a moment, so the client reads the answer instead of a reset. Request bodies are
bounded in app.py (3 MiB, and the body timeouts), where the request is known.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

MAX_HEAD = 1 << 20
HEAD_TIMEOUT = 32.0
LINGER = 0.5
_REASONS = {400: ("Bad Request", "BadRequest"), 408: ("Request Timeout", "Timeout"),
            431: ("Request Header Fields Too Large", "RequestHeaderFieldsTooLarge")}


def status_answer(code: int, message: str) -> bytes:
    """A complete HTTP/1.1 answer carrying a meta/v1 Status, closing the connection."""
    phrase, reason = _REASONS[code]
    body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()
    return (f"HTTP/1.1 {code} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


def hardened(base: Any = AutoHTTPProtocol, max_head: int = MAX_HEAD, head_timeout: float = HEAD_TIMEOUT) -> Any:
    """`base` (uvicorn's httptools protocol, or a subclass such as auth/tls.py's) with the limits
    above; uvicorn.Config(http=...) takes the returned class."""

    class Hardened(base):  # type: ignore[misc, valid-type]
        _head_bytes = 0
        _in_head = False  # between the first byte of a request and the end of its headers
        _in_body = False
        _refused = False
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = asyncio.get_running_loop().call_later(head_timeout, self._head_expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self._in_head or self.cycle is None:  # a head under way, or none yet on a new connection
                self._refuse(408, f"the request head did not arrive within {head_timeout:g} s")

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return  # discarding what follows a refusal
            if not self._in_body:
                self._arm()
            super().data_received(data)
            # what this read added to a head still under way (at most one read more than the
            # head itself when requests are pipelined): httptools buffers a header line whole
            if self._in_head and not self._refused:
                self._head_bytes += len(data)
                if self._head_bytes > max_head:
                    self._refuse(431, f"request headers larger than {max_head} bytes")

        def on_message_begin(self) -> None:
            self._in_head, self._head_bytes = True, 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head, self._in_body = False, True
            self._disarm()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_body = False
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            self._refuse(400, msg)

        def _refuse(self, code: int, message: str) -> None:
            self._refused = True
            self._disarm()
            self.transport.write(status_answer(code, message))
            if self.transport.can_write_eof():
                self.transport.write_eof()
                asyncio.get_running_loop().call_later(LINGER, self.transport.close)
            else:
                self.transport.close()

    Hardened.__name__ = f"Hardened{base.__name__}"
    return Hardened
