"""A small asyncio HTTP/1.1 server for the components' own endpoints.

The scheduler and node agents serve little HTTP (health, metrics, the kubelet API, and the fake
containers' ports), but a node agent may serve many ports at once, so each listener must be
cheap: one `asyncio.start_server` per address, no framework. Each response closes the
connection; streaming bodies (`kubectl logs -f`) use chunked transfer encoding.

The server never reads a request body on its own: a handler that takes one calls
`Request.read_body()` once it has authenticated the caller (the kubelet API's endpoints take
none), so a caller the kubelet API has not authenticated cannot make it buffer anything.
The request head is bounded as Go's net/http bounds it (1 MiB, http.DefaultMaxHeaderBytes: 431
beyond), must arrive within HEAD_TIMEOUT, and a Content-Length that is not a plain decimal is a
400, as Go answers it. After the answer, a declared body is discarded (at most MAX_BODY bytes,
for at most DRAIN_TIMEOUT) before the connection closes, so a client still sending it reads the
answer instead of a connection reset.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit, unquote

log = logging.getLogger(__name__)

REASONS = {101: "Switching Protocols", 200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large",
           422: "Unprocessable Entity", 431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}
MAX_HEAD = 1 << 20  # request line and headers (Go's http.DefaultMaxHeaderBytes)
MAX_BODY = 3 << 20  # a larger declared body is refused (413) and never drained
HEAD_TIMEOUT = 30.0
BODY_TIMEOUT = 30.0
DRAIN_TIMEOUT = 5.0
LINGER = 0.5


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    peer: tuple[str, int] | None = None
    peer_cert: bytes | None = None  # DER of the client certificate the TLS handshake verified, if any
    body_length: int = 0  # the declared Content-Length; the body stays on the wire until read_body()
    reader: asyncio.StreamReader | None = field(default=None, repr=False)
    body_timeout: float = BODY_TIMEOUT
    body_read: bool = False

    def arg(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[0] if v else default

    async def read_body(self) -> bytes:
        """The declared body, read now (within the server's body timeout): a handler calls this only after it has
        authenticated the caller. A missing or short body is a BadRequest."""
        if self.body_read or self.reader is None or not self.body_length:
            return b""
        self.body_read = True
        try:
            async with asyncio.timeout(self.body_timeout):
                return await self.reader.readexactly(self.body_length)
        except (TimeoutError, asyncio.IncompleteReadError):
            raise BadRequest(400, "400 Bad Request: the request body did not arrive") from None


class BadRequest(Exception):
    """A request head Go's net/http would refuse: answered with `status` and `message`, then closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None  # when set, sent chunked instead of `body`
    # when set, the handler takes over the connection (a protocol upgrade such as WebSocket)
    upgrade: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]] | None = None


def text(s: str, status: int = 200) -> Response:
    return Response(status, s.encode())


Handler = Callable[[Request], Awaitable[Response]]


async def _read_request(reader: asyncio.StreamReader, body_timeout: float) -> Request | None:
    """The request head; None when the peer closed before sending one."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise BadRequest(400, "400 Bad Request: malformed HTTP request") from None
    except asyncio.LimitOverrunError:  # the stream's limit is MAX_HEAD
        raise BadRequest(431, "431 Request Header Fields Too Large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest(400, "400 Bad Request: malformed HTTP request") from None
    if not version.startswith("HTTP/1.") or not method.isalpha():
        raise BadRequest(400, "400 Bad Request: malformed HTTP request")
    headers: dict[str, str] = {}
    lengths: set[str] = set()
    for line in lines[1:]:
        if not line:
            continue
        k, sep, v = line.partition(":")
        if not sep or not k or k != k.strip():
            raise BadRequest(400, "400 Bad Request: malformed MIME header line")
        k = k.lower()
        if k == "content-length":
            lengths.update(x.strip() for x in v.split(","))
        headers[k] = v.strip()
    if lengths:
        # Go's net/http: one value, plain decimal digits ("bad Content-Length" otherwise)
        if len(lengths) != 1 or not next(iter(lengths)).isascii() or not next(iter(lengths)).isdigit():
            raise BadRequest(400, "400 Bad Request: bad Content-Length")
    length = int(next(iter(lengths))) if lengths else 0
    if length > MAX_BODY:
        raise BadRequest(413, "413 Request Entity Too Large")
    u = urlsplit(target)
    return Request(method.upper(), unquote(u.path), parse_qs(u.query), headers, body_length=length, reader=reader,
                   body_timeout=body_timeout)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """After refusing a request whose rest is still arriving, close our side and discard input
    for a moment, as Go's closeWriteAndWait does: closing with unread input would reset the
    connection, and the client could lose the answer."""
    try:
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER):
            while await reader.read(65536):
                pass
    except (TimeoutError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        return


async def _drain(reader: asyncio.StreamReader, length: int) -> None:
    """Discard a declared body the handler did not read (bounded by MAX_BODY and DRAIN_TIMEOUT)."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while length > 0:
                chunk = await reader.read(min(length, 65536))
                if not chunk:
                    return
                length -= len(chunk)
    except (TimeoutError, ConnectionError):
        return


async def _write_response(writer: asyncio.StreamWriter, resp: Response, head_only: bool = False) -> None:
    hdrs = {"Content-Type": resp.content_type, "Connection": "close", **resp.headers}
    if resp.stream is None:
        hdrs["Content-Length"] = str(len(resp.body))
    else:
        hdrs["Transfer-Encoding"] = "chunked"
    head = f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'OK')}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    writer.write(head.encode("latin-1"))
    if head_only:
        await writer.drain()
        return
    if resp.stream is None:
        writer.write(resp.body)
        await writer.drain()
        return
    async for chunk in resp.stream:
        if chunk:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


class HTTPServer:
    """Serve `handler` on host:port until `close()`."""

    def __init__(self, handler: Handler, host: str, port: int, tls: ssl.SSLContext | None = None,
                 head_timeout: float = HEAD_TIMEOUT, body_timeout: float = BODY_TIMEOUT) -> None:
        self.handler = handler
        self.head_timeout, self.body_timeout = head_timeout, body_timeout
        self.tls = tls  # serve HTTPS (the kubelet API with --tls-cert-file)
        self.host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> "HTTPServer":
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True, ssl=self.tls,
                                                  limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task:
            self._conns.add(task)
        try:
            try:
                req = await asyncio.wait_for(_read_request(reader, self.body_timeout), self.head_timeout)
            except BadRequest as e:
                await _write_response(writer, text(str(e), e.status))
                await _linger(reader, writer)
                return
            if req is None:
                return
            req.peer = writer.get_extra_info("peername")
            tls_obj = writer.get_extra_info("ssl_object")
            req.peer_cert = tls_obj.getpeercert(binary_form=True) if tls_obj is not None else None
            try:
                resp = await self.handler(req)
            except BadRequest as e:
                resp = text(str(e), e.status)
            except Exception:
                log.exception("handler failed", extra={"path": req.path})
                resp = text("internal error\n", 500)
            if resp.upgrade is not None:
                await resp.upgrade(reader, writer)
            else:
                await _write_response(writer, resp, head_only=req.method == "HEAD")
                if not req.body_read:
                    await _drain(reader, req.body_length)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if task:
                self._conns.discard(task)
            try:
                writer.close()
            except Exception:
                pass

    async def close(self) -> None:
        if self._server:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):
                pass
