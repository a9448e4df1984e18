"""A small asyncio HTTP/1.1 server for the components' own endpoints.

The scheduler and node agents serve little HTTP (health, metrics, the kubelet API, and the fake
containers' ports), but a node agent may serve many ports at once, so each listener must be
cheap: one `asyncio.start_server` per address, no framework. Each response closes the
connection; streaming bodies (`kubectl logs -f`) use chunked transfer encoding.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit, unquote

log = logging.getLogger(__name__)

REASONS = {101: "Switching Protocols", 200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] | None = None
    peer_cert: bytes | None = None  # DER of the client certificate the TLS handshake verified, if any

    def arg(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[0] if v else default


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


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length") or 0)
    body = await reader.readexactly(n) if n else b""
    u = urlsplit(target)
    return Request(method.upper(), unquote(u.path), parse_qs(u.query), headers, body)


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

    def __init__(self, handler: Handler, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls  # serve HTTPS (the kubelet API with --tls-cert-file)
        self.host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> "HTTPServer":
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task:
            self._conns.add(task)
        try:
            req = await asyncio.wait_for(_read_request(reader), 30)
            if req is None:
                return
            req.peer = writer.get_extra_info("peername")
            tls_obj = writer.get_extra_info("ssl_object")
            req.peer_cert = tls_obj.getpeercert(binary_form=True) if tls_obj is not None else None
            try:
                resp = await self.handler(req)
            except Exception:
                log.exception("handler failed", extra={"path": req.path})
                resp = text("internal error\n", 500)
            if resp.upgrade is not None:
                await resp.upgrade(reader, writer)
            else:
                await _write_response(writer, resp, head_only=req.method == "HEAD")
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
