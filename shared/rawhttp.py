"""A small async HTTP/1.1 client on asyncio streams: every HTTP request a long-running kubeling
component sends (API calls and watches, the apiserver's store calls and kubelet proxying, the
kubelet's probes, the scheduler's binds) goes through it.

Why not httpx (measured on the 2-core reference machine):

* memory: importing httpx and loading anyio's asyncio backend at the first request costs about
  3.3 MB RSS per process in a clean venv (httpx, httpcore, anyio, idna, h11, sniffio), and a
  default cluster runs ten such processes;
* CPU: httpx/httpcore spend most of a small request's CPU in connection-pool bookkeeping that
  walks every pooled connection per request (about 80% of an apiserver create's CPU went to its
  store client; 44% of the scheduler's CPU at 1,000 nodes went to binds).

What the components need is small: any method with a query string, a few headers and a body;
responses framed by Content-Length, chunked encoding or the end of the connection; bodies read
at once (`request`, `post`) or incrementally (`stream`, for watch streams and followed logs);
TLS from an `ssl.SSLContext`; and a keep-alive pool per (scheme, host, port) with a connection
limit, a pool timeout, and idle expiry (idle sockets, TLS ones especially, are memory too).
TLS runs through an `ssl.SSLObject` on memory BIOs (`_TLSProtocol`), not asyncio's SSL
transport, whose 256 KiB receive buffer per connection would cost more than httpx did.

Measured on a default `kubeling up` cluster (TLS, 3 store members, 4 node agents), RSS ~20 s
after up: the ten processes went from 401 MiB to 367 MiB; a scheduler 34.7 -> 30.7 MiB, a node
agent 35.8 -> 32.4, the controller-manager 36.9 -> 32.9, the apiserver 63.4 -> 57.6.

Errors are one hierarchy rooted at `RawHTTPError`, whose `sent` says whether the request may have
reached the server; the subclasses are named after httpx's (ConnectError, ConnectTimeout,
PoolTimeout, ReadTimeout, ReadError, RemoteProtocolError) because callers' failover rules were
written in those terms.
"""
from __future__ import annotations

import asyncio
import json
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

__all__ = [
    "ConnectError", "ConnectTimeout", "PoolTimeout", "RawHTTPClient", "RawHTTPError", "ReadError",
    "ReadTimeout", "RemoteProtocolError", "Response", "StreamResponse",
]

# `timeout=` default: the client's own timeout (None means "no timeout", for watches).
_CLIENT_DEFAULT: Any = object()
_READ_SIZE = 65536
_NO_BODY_STATUS = (204, 304)
# Response head limits: Go's http.Transport allows 10 MB of head by default; the servers these
# components talk to (the apiserver, the store, kubelets, fake containers) send a few hundred bytes.
MAX_LINE = 64 * 1024
MAX_HEAD = 1 << 20
MAX_HEADERS = 500
MAX_INTERIM = 8


class RawHTTPError(ConnectionError):
    """The request failed in transport, or the response was not valid HTTP/1.1.

    `sent` says whether the request may have reached the server: False when the connection could
    not be opened, no pooled connection became free in time, or a kept-alive one was found closed
    before it was read (safe to send again, to this server or another), True otherwise (it may
    have been processed)."""

    def __init__(self, message: str, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class ConnectError(RawHTTPError):
    """The connection (TCP or the TLS handshake) could not be opened: nothing was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sent=False)


class ConnectTimeout(ConnectError):
    """Opening the connection took longer than the connect timeout."""


class PoolTimeout(RawHTTPError):
    """Every connection the pool may open to that server stayed busy for the pool timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sent=False)


class ReadTimeout(RawHTTPError):
    """Writing the request or reading the response took longer than the request's timeout."""


class ReadError(RawHTTPError):
    """The connection broke while the request or the response was on the wire."""


class RemoteProtocolError(RawHTTPError):
    """The server closed the connection without an answer, or answered with something that is
    not HTTP/1.1."""


class _Stale(Exception):
    """A connection gave no status line at all: closed by the server (idle keep-alive) or reset."""


class _Conn:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # closing a broken socket may fail; it is being discarded anyway
            pass


class _TLSProtocol(asyncio.Protocol):
    """TLS over a plain TCP transport with an `ssl.SSLObject` on memory BIOs, decrypted data fed
    to an asyncio.StreamReader.

    Why not `open_connection(ssl=...)`: asyncio's SSLProtocol allocates a 256 KiB receive buffer
    per connection (`SSLProtocol.max_size`), resident for the connection's life: measured, about
    290 kB RSS per TLS connection against about 35 kB here. A controller-manager holds some twenty
    TLS connections (its watches), an apiserver dozens to the store. This is what anyio did
    for httpx: ciphertext in and out through memory BIOs."""

    def __init__(self, ctx: ssl.SSLContext, server_hostname: str, reader: asyncio.StreamReader) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._sslobj = ctx.wrap_bio(self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname)
        self.reader = reader
        self.transport: asyncio.Transport | None = None
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses
        self.reader.set_transport(transport)  # the reader pauses/resumes the socket when its buffer fills
        self._do_handshake()

    def _flush(self) -> None:
        if self._outgoing.pending and self.transport is not None:
            self.transport.write(self._outgoing.read())

    def _do_handshake(self) -> None:
        try:
            self._sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, ssl.CertificateError) as e:
            self._flush()  # the alert
            if not self.handshake.done():
                self.handshake.set_exception(e)
            if self.transport is not None:
                self.transport.close()
            return
        self._flush()
        if not self.handshake.done():
            self.handshake.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if not self.handshake.done():
            self._do_handshake()
            if not self.handshake.done() or self.handshake.exception() is not None:
                return
        while True:
            try:
                chunk = self._sslobj.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            except ssl.SSLError as e:  # e.g. an alert: the server refused our certificate
                self.reader.set_exception(e)
                if self.transport is not None:
                    self.transport.close()
                return
            if not chunk:
                # close_notify (SSLObject.read returns b"" for it): the server is done with the
                # connection - e.g. uvicorn closing an idle keep-alive connection - but an asyncio
                # server keeps the TCP connection open until it gets ours (ssl_shutdown_timeout,
                # 30 s). Mark the stream ended so the pool never reuses it, answer, and close.
                self.reader.feed_eof()
                self._close()
                return
            self.reader.feed_data(chunk)
        self._flush()  # TLS 1.3 may answer (key updates)

    def _close(self) -> None:
        """Send close_notify (best effort) and close the TCP connection."""
        if self.transport is None or self.transport.is_closing():
            return
        try:
            self._sslobj.unwrap()
        except ssl.SSLError:  # SSLWantReadError: our close_notify is queued, the peer's may follow
            pass
        self._flush()
        self.transport.close()

    def eof_received(self) -> bool:
        self.reader.feed_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or ConnectionResetError("connection lost")
        if exc is None:
            self.reader.feed_eof()
        else:
            self.reader.set_exception(exc)
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionResetError(f"connection lost during the TLS handshake: {exc!r}"))
        for fut in self._drain_waiters:
            if not fut.done():
                fut.set_exception(self._lost)
        self._drain_waiters.clear()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        for fut in self._drain_waiters:
            if not fut.done():
                fut.set_result(None)
        self._drain_waiters.clear()


class _TLSWriter:
    """The StreamWriter methods rawhttp uses, encrypting through a _TLSProtocol."""
    __slots__ = ("_proto",)

    def __init__(self, proto: _TLSProtocol) -> None:
        self._proto = proto

    def write(self, data: bytes) -> None:
        self._proto._sslobj.write(data)
        self._proto._flush()

    async def drain(self) -> None:
        p = self._proto
        if p._lost is not None:
            raise ConnectionResetError("connection lost") from p._lost
        if p._write_paused:
            fut = asyncio.get_running_loop().create_future()
            p._drain_waiters.append(fut)
            await fut

    def is_closing(self) -> bool:
        t = self._proto.transport
        return t is None or t.is_closing()

    def close(self) -> None:
        self._proto._close()


class _Pool:
    """The connections to one (scheme, host, port). `active` counts connections checked out (or
    being opened); idle ones are kept newest last, so the oldest expire from the left."""
    __slots__ = ("idle", "active", "waiters")

    def __init__(self) -> None:
        self.idle: deque[_Conn] = deque()
        self.active = 0
        self.waiters: deque[asyncio.Future[_Conn | None]] = deque()


class _Framing:
    __slots__ = ("length", "chunked", "keep")

    def __init__(self, length: int | None, chunked: bool, keep: bool) -> None:
        self.length = length  # None: chunked, or read until the server closes
        self.chunked = chunked
        self.keep = keep  # the connection may be reused once the body is read


class Response:
    """A response read in full. `headers` has lower-case names (repeated ones joined by ", ")."""
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class RawHTTPClient:
    """Keep-alive connection pools, one per (scheme, host, port), and the requests sent on them.

    `timeout` bounds a request's writing and reading (a buffered request as a whole; each read of
    a stream), `connect_timeout` the TCP connect plus TLS handshake, `pool_timeout` (default:
    `timeout`) the wait for a free connection when `max_connections` to that server are busy.
    Idle connections older than `keepalive_expiry` seconds are closed whenever the pool is used.
    `headers` are sent with every request (User-Agent, Authorization, Accept...); `ssl_context`
    is used for https:// URLs (client certificate, private CA), else the system's default trust.
    """

    def __init__(self, timeout: float | None = 15.0, connect_timeout: float = 3.0, *, max_connections: int = 100,
                 pool_timeout: float | None = None, keepalive_expiry: float = 15.0,
                 ssl_context: ssl.SSLContext | None = None, headers: Mapping[str, str] | None = None) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.pool_timeout = timeout if pool_timeout is None else pool_timeout
        self.keepalive_expiry = keepalive_expiry
        self.ssl_context = ssl_context
        self._default_headers = {k.lower(): (k, v) for k, v in (headers or {}).items()}
        self._header_block = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._default_tls: ssl.SSLContext | None = None
        self._closed = False  # connections given back after close() are closed, not kept

    async def __aenter__(self) -> RawHTTPClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- public calls ---------------------------------------------------------------------------

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body; (status, body). The hot path of the store client and the binder:
        the request head is one f-string with the client's headers pre-joined."""
        key, tls, target, host = self._target(url, None)
        head = (f"POST {target} HTTP/1.1\r\nHost: {host}\r\n{self._header_block}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        status, _, data = await self._buffered(key, tls, head + body, "POST", self.timeout)
        return status, data

    async def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                      headers: Mapping[str, str] | None = None, content: bytes | None = None,
                      timeout: float | None = _CLIENT_DEFAULT) -> Response:
        """Send one request and read the whole response. `params` are added to the URL's query
        (None values dropped); `headers` add to or override the client's."""
        key, tls, target, host = self._target(url, params)
        data = self._head(method, target, host, headers, content)
        status, hdrs, body = await self._buffered(key, tls, data, method,
                                                  self.timeout if timeout is _CLIENT_DEFAULT else timeout)
        return Response(status, hdrs, body)

    async def get(self, url: str, **kw: Any) -> Response:
        return await self.request("GET", url, **kw)

    async def open_stream(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                          headers: Mapping[str, str] | None = None, content: bytes | None = None,
                          timeout: float | None = _CLIENT_DEFAULT) -> StreamResponse:
        """Send one request and return once the response head arrived; the body is read from the
        returned StreamResponse, which the caller must `aclose()` (a body left unread closes the
        connection). `timeout` bounds each read (None: wait forever, as a watch does)."""
        key, tls, target, host = self._target(url, params)
        data = self._head(method, target, host, headers, content)
        t = self.timeout if timeout is _CLIENT_DEFAULT else timeout
        pool, conn, status, hdrs, framing = await self._open(key, tls, data, method, t)
        return StreamResponse(self, pool, conn, status, hdrs, framing, t)

    def stream(self, method: str, url: str, **kw: Any) -> _StreamContext:
        """`async with client.stream(...) as r:` - open_stream closed on exit."""
        return _StreamContext(self.open_stream(method, url, **kw))

    async def close(self) -> None:
        """Close idle connections; ones checked out are closed as their requests finish."""
        self._closed = True
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
        self._pools.clear()

    aclose = close  # httpx's name, for callers written against it

    # -- request building -----------------------------------------------------------------------

    def _target(self, url: str, params: Mapping[str, Any] | None
                ) -> tuple[tuple[str, str, int], ssl.SSLContext | None, str, str]:
        """(pool key, TLS context or None, request target, Host header) of a URL."""
        u = urlsplit(url)
        scheme = u.scheme
        if scheme not in ("http", "https") or not u.hostname:
            raise RawHTTPError(f"unsupported URL {url!r}", sent=False)
        tls = None
        if scheme == "https":
            tls = self.ssl_context
            if tls is None:
                if self._default_tls is None:
                    self._default_tls = ssl.create_default_context()
                tls = self._default_tls
        try:
            port = u.port or (443 if tls else 80)
        except ValueError as e:
            raise RawHTTPError(f"invalid URL {url!r}: {e}", sent=False) from None
        target = u.path or "/"
        query = u.query
        if params:
            extra = _encode_params(params)
            if extra:
                query = f"{query}&{extra}" if query else extra
        if query:
            target = f"{target}?{query}"
        host = u.netloc.rpartition("@")[2]
        return (scheme, u.hostname, port), tls, target, host

    def _head(self, method: str, target: str, host: str, headers: Mapping[str, str] | None,
              content: bytes | None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\n"]
        merged = self._default_headers
        if headers:
            merged = dict(merged)
            for k, v in headers.items():
                merged[k.lower()] = (k, v)
        if "host" not in merged:
            lines.append(f"Host: {host}\r\n")
        if headers:
            lines.extend(f"{k}: {v}\r\n" for k, v in merged.values())
        else:
            lines.append(self._header_block)
        if content is not None:
            lines.append(f"Content-Length: {len(content)}\r\n")
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        return head + content if content else head

    # -- the exchange ---------------------------------------------------------------------------

    async def _buffered(self, key: tuple[str, str, int], tls: ssl.SSLContext | None, data: bytes, method: str,
                        timeout: float | None) -> tuple[int, dict[str, str], bytes]:
        pool, conn, status, headers, framing = await self._open(key, tls, data, method, timeout)
        try:
            async with asyncio.timeout(timeout):
                body = await _read_body(conn.reader, framing)
        except BaseException as e:
            conn.close()
            self._release(pool, None)
            if isinstance(e, TimeoutError):
                raise ReadTimeout(f"{method} {key[1]}:{key[2]}: no complete answer within {timeout} s") from None
            if isinstance(e, (OSError, asyncio.IncompleteReadError)):
                raise ReadError(f"{method} {key[1]}:{key[2]}: {e!r}") from e
            if isinstance(e, ValueError):
                raise RemoteProtocolError(f"{method} {key[1]}:{key[2]}: {e}") from e
            raise
        if framing.keep:
            self._release(pool, conn)
        else:
            conn.close()
            self._release(pool, None)
        return status, headers, body

    async def _open(self, key: tuple[str, str, int], tls: ssl.SSLContext | None, data: bytes, method: str,
                    timeout: float | None) -> tuple[_Pool, _Conn, int, dict[str, str], _Framing]:
        """Send the request and read the response head. On return the caller holds the pool slot
        and the connection, positioned at the body, and must give both back (`_release`)."""
        pool, conn = await self._acquire(key)
        try:
            for attempt in (0, 1):
                reused = conn is not None
                if conn is None:
                    conn = await self._connect(key, tls)
                try:
                    async with asyncio.timeout(timeout):
                        conn.writer.write(data)
                        await conn.writer.drain()
                        status, headers, framing = await _read_head(conn.reader, method)
                    return pool, conn, status, headers, framing
                except _Stale:
                    conn.close()
                    conn = None
                    if reused and attempt == 0:
                        continue  # the server closed an idle connection before reading: nothing was sent
                    raise RemoteProtocolError("connection closed by the server before it answered", sent=False) from None
                except TimeoutError:
                    raise ReadTimeout(f"{method} {key[1]}:{key[2]}: no answer within {timeout} s") from None
                except (OSError, asyncio.IncompleteReadError) as e:
                    raise ReadError(f"{method} {key[1]}:{key[2]}: {e!r}") from e
                except ValueError as e:
                    raise RemoteProtocolError(f"{method} {key[1]}:{key[2]}: {e}") from e
            raise RemoteProtocolError("unreachable")
        except BaseException:
            if conn is not None:
                conn.close()
            self._release(pool, None)
            raise

    async def _connect(self, key: tuple[str, str, int], tls: ssl.SSLContext | None) -> _Conn:
        _, host, port = key
        transport: asyncio.BaseTransport | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                if tls is None:
                    r, w = await asyncio.open_connection(host, port)
                    return _Conn(r, w)
                loop = asyncio.get_running_loop()
                reader = asyncio.StreamReader(loop=loop)
                transport, proto = await loop.create_connection(lambda: _TLSProtocol(tls, host, reader), host, port)
                await proto.handshake
                return _Conn(reader, _TLSWriter(proto))
        except BaseException as e:
            if transport is not None:
                transport.close()
            if isinstance(e, TimeoutError):
                raise ConnectTimeout(f"connect {host}:{port}: timed out after {self.connect_timeout} s") from None
            if isinstance(e, (OSError, ValueError)):  # refused, unreachable, TLS handshake or certificate failures
                raise ConnectError(f"connect {host}:{port}: {e!r}") from e
            raise

    # -- the pool -------------------------------------------------------------------------------

    async def _acquire(self, key: tuple[str, str, int]) -> tuple[_Pool, _Conn | None]:
        """A slot in the pool of `key`: with an idle connection to reuse, or None (open one)."""
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool()
        idle = pool.idle
        if idle:
            now = asyncio.get_running_loop().time()
            self._expire(pool, now)
            while idle:
                conn = idle.pop()
                if conn.usable():
                    pool.active += 1
                    return pool, conn
                conn.close()
        if pool.active < self.max_connections:
            pool.active += 1
            return pool, None
        fut: asyncio.Future[_Conn | None] = asyncio.get_running_loop().create_future()
        pool.waiters.append(fut)
        try:
            async with asyncio.timeout(self.pool_timeout):
                conn = await fut
        except BaseException as e:
            if fut.done() and not fut.cancelled():
                self._release(pool, fut.result())  # handed a slot just as we gave up: pass it on
            else:
                fut.cancel()
                try:
                    pool.waiters.remove(fut)
                except ValueError:
                    pass
            if isinstance(e, TimeoutError):
                raise PoolTimeout(f"no free connection to {key[1]}:{key[2]} within {self.pool_timeout} s "
                                  f"({self.max_connections} busy)") from None
            raise
        if conn is not None and not conn.usable():
            conn.close()
            conn = None
        return pool, conn

    def _release(self, pool: _Pool, conn: _Conn | None) -> None:
        """Give a slot back, with a connection that can be reused or None: to the first waiter,
        else to the pool, whose idle list keeps the connection."""
        while pool.waiters:
            fut = pool.waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        pool.active -= 1
        if conn is not None and self._closed:
            conn.close()
        elif conn is not None:
            now = asyncio.get_running_loop().time()
            conn.idle_since = now
            pool.idle.append(conn)
            self._expire(pool, now)

    def _expire(self, pool: _Pool, now: float) -> None:
        idle = pool.idle
        deadline = now - self.keepalive_expiry
        while idle and idle[0].idle_since <= deadline:
            idle.popleft().close()

    def _idle_count(self) -> int:
        """Idle connections over all pools (for tests and diagnostics)."""
        return sum(len(p.idle) for p in self._pools.values())


class StreamResponse:
    """A response whose body is read incrementally (`aiter_raw`/`aiter_bytes`, `aiter_lines`,
    `aread`). The connection goes back to the pool only when the body was read to its end;
    `aclose()` before that closes it (a watch the caller stopped following)."""

    def __init__(self, client: RawHTTPClient, pool: _Pool, conn: _Conn, status: int, headers: dict[str, str],
                 framing: _Framing, timeout: float | None) -> None:
        self.status_code = status
        self.headers = headers
        self._client = client
        self._pool = pool
        self._conn: _Conn | None = conn
        self._framing = framing
        self._timeout = timeout
        self._done = False  # the body was read to its end
        self._content: bytes | None = None

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (chunked framing removed)."""
        conn = self._conn
        if conn is None:
            return
        f = self._framing
        reader = conn.reader
        try:
            if f.chunked:
                while True:
                    size = await self._read(_chunk_size(reader))
                    if size == 0:
                        await self._read(_skip_trailers(reader))
                        break
                    data = await self._read(reader.readexactly(size + 2))
                    yield data[:-2]
            elif f.length is not None:
                left = f.length
                while left > 0:
                    data = await self._read(reader.read(min(left, _READ_SIZE)))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", left)
                    left -= len(data)
                    yield data
            else:
                while data := await self._read(reader.read(_READ_SIZE)):
                    yield data
        except TimeoutError:
            await self.aclose()
            raise ReadTimeout(f"no data within {self._timeout} s") from None
        except (OSError, asyncio.IncompleteReadError) as e:
            await self.aclose()
            raise ReadError(f"the response body broke off: {e!r}") from e
        except ValueError as e:
            await self.aclose()
            raise RemoteProtocolError(f"bad chunked framing: {e}") from e
        self._done = True
        await self.aclose()

    aiter_bytes = aiter_raw

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body split into lines (newline-delimited JSON of a watch), without line endings."""
        buf = b""
        async for chunk in self.aiter_raw():
            buf += chunk
            if b"\n" not in chunk:
                continue
            *lines, buf = buf.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
        if buf:
            yield buf.rstrip(b"\r").decode("utf-8", "replace")

    async def aread(self) -> bytes:
        """The rest of the body; afterwards also `content`, `text` and `json()`."""
        parts = [chunk async for chunk in self.aiter_raw()]
        self._content = b"".join(parts)
        return self._content

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("the body of a stream is available after aread()")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    async def _read(self, aw: Any) -> Any:
        if self._timeout is None:
            return await aw
        async with asyncio.timeout(self._timeout):
            return await aw

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._framing.keep:
            self._client._release(self._pool, conn)
        else:
            conn.close()
            self._client._release(self._pool, None)

    async def __aenter__(self) -> StreamResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _StreamContext:
    __slots__ = ("_opening", "_response")

    def __init__(self, opening: Any) -> None:
        self._opening = opening
        self._response: StreamResponse | None = None

    async def __aenter__(self) -> StreamResponse:
        self._response = await self._opening
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            await self._response.aclose()


def _encode_params(params: Mapping[str, Any]) -> str:
    items: list[tuple[str, str]] = []
    for k, v in params.items():
        if v is None:
            continue
        for one in (v if isinstance(v, (list, tuple)) else (v,)):
            items.append((k, ("true" if one else "false") if isinstance(one, bool) else str(one)))
    return urlencode(items)


async def _line(reader: asyncio.StreamReader) -> bytes:
    """One line of a response head, at most MAX_LINE bytes (ValueError beyond: the StreamReader's
    limit is 64 KiB, and the TLS reader's is the same)."""
    line = await reader.readline()
    if len(line) > MAX_LINE:
        raise ValueError(f"response head line longer than {MAX_LINE} bytes")
    return line


async def _read_head(reader: asyncio.StreamReader, method: str) -> tuple[int, dict[str, str], _Framing]:
    """Status line and headers (skipping 1xx interim answers); how the body is framed.

    A server cannot make the client hold an unbounded head: at most MAX_HEAD bytes and MAX_HEADERS
    header lines per answer, MAX_INTERIM interim answers (ValueError, a RemoteProtocolError to the
    caller, beyond any of them)."""
    try:
        line = await _line(reader)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise _Stale() from e
    if not line:
        raise _Stale()
    for _ in range(MAX_INTERIM + 1):
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
            raise ValueError(f"bad status line {line[:100]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        size, count = len(line), 0
        while True:
            h = await _line(reader)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                raise asyncio.IncompleteReadError(b"", None)
            size, count = size + len(h), count + 1
            if size > MAX_HEAD or count > MAX_HEADERS:
                raise ValueError(f"response head larger than {MAX_HEAD} bytes or {MAX_HEADERS} header lines")
            name, _, value = h.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if 100 <= status < 200 and status != 101:
            line = await _line(reader)  # 100 Continue and friends: the real answer follows
            if not line:
                raise asyncio.IncompleteReadError(b"", None)
            continue
        break
    else:
        raise ValueError(f"more than {MAX_INTERIM} interim (1xx) answers")
    conn_hdr = headers.get("connection", "").lower()
    keep = "close" not in conn_hdr and (parts[0] == b"HTTP/1.1" or "keep-alive" in conn_hdr)
    if method == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        return status, headers, _Framing(0, False, keep)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, headers, _Framing(None, True, keep)
    cl = headers.get("content-length")
    if cl is not None:
        values = {v.strip() for v in cl.split(",")}
        length = values.pop() if len(values) == 1 else ""
        if not (length.isascii() and length.isdigit()):
            raise ValueError(f"bad Content-Length {cl[:100]!r}")
        return status, headers, _Framing(int(length), False, keep)
    return status, headers, _Framing(None, False, False)  # delimited by the end of the connection


async def _chunk_size(reader: asyncio.StreamReader) -> int:
    line = await reader.readline()
    if not line:
        raise asyncio.IncompleteReadError(b"", None)
    return int(line.split(b";", 1)[0].strip() or b"0", 16)


async def _skip_trailers(reader: asyncio.StreamReader) -> None:
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass


async def _read_body(reader: asyncio.StreamReader, f: _Framing) -> bytes:
    if f.chunked:
        chunks = []
        while True:
            size = await _chunk_size(reader)
            if size == 0:
                await _skip_trailers(reader)
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    if f.length is not None:
        return await reader.readexactly(f.length) if f.length else b""
    return await reader.read()
