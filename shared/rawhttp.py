"""A small keep-alive HTTP/1.1 client for hot unary JSON POSTs: the apiserver's store calls and
the scheduler's binds.

Why not httpx for these: on two cores, httpx/httpcore spend most of a small request's CPU in
connection-pool bookkeeping (measured: about 80% of an apiserver create's CPU went to its store
client; 44% of the scheduler's CPU at 1,000 nodes went to binds). Both calls need little: POST
a JSON body and read a response framed by Content-Length or chunked encoding. Everything else
(watch streams, lists, the components' other requests) still uses httpx.
"""
from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit


class RawHTTPError(ConnectionError):
    """The connection failed or the response was not valid HTTP/1.1.

    `sent` says whether the request may have reached the server: False when the connection could
    not be opened or a kept-alive one was found closed before it was read (safe to send again,
    to this server or another), True otherwise (it may have been processed)."""

    def __init__(self, message: str, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # closing a broken socket may fail; it is being discarded anyway
            pass


class RawHTTPClient:
    def __init__(self, timeout: float = 15.0, connect_timeout: float = 3.0, max_idle: int = 64,
                 ssl_context: ssl.SSLContext | None = None, headers: dict[str, str] | None = None) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.ssl_context = ssl_context  # for https:// URLs (client certificates, a private CA)
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())  # sent with every request
        self._idle: dict[tuple[str, int], list[_Conn]] = {}

    async def post(self, url: str, body: bytes) -> tuple[int, bytes]:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise RawHTTPError(f"unsupported store URL {url!r}")
        tls = None
        if u.scheme == "https":
            tls = self.ssl_context or ssl.create_default_context()
        addr = (u.hostname, u.port or (443 if tls else 80))
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        for attempt in range(2):
            conn, reused = self._take(addr), True
            if conn is None:
                reused = False
                try:
                    r, w = await asyncio.wait_for(asyncio.open_connection(*addr, ssl=tls), self.connect_timeout)
                except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
                    raise RawHTTPError(f"connect {addr[0]}:{addr[1]}: {e!r}", sent=False) from e
                conn = _Conn(r, w)
            try:
                status, data, keep = await asyncio.wait_for(self._exchange(conn, addr, path, body), self.timeout)
            except _StaleConnection:
                conn.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection before reading: nothing was sent
                raise RawHTTPError("connection closed by the server before it answered", sent=False) from None
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
                conn.close()
                raise RawHTTPError(f"POST {url}: {e!r}") from e
            except BaseException:
                conn.close()
                raise
            if keep:
                self._give(addr, conn)
            else:
                conn.close()
            return status, data
        raise RawHTTPError("unreachable")

    def _take(self, addr: tuple[str, int]) -> _Conn | None:
        pool = self._idle.get(addr)
        while pool:
            conn = pool.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        return None

    def _give(self, addr: tuple[str, int], conn: _Conn) -> None:
        pool = self._idle.setdefault(addr, [])
        if len(pool) < self.max_idle:
            pool.append(conn)
        else:
            conn.close()

    async def _exchange(self, conn: _Conn, addr: tuple[str, int], path: str, body: bytes) -> tuple[int, bytes, bool]:
        head = (f"POST {path} HTTP/1.1\r\nHost: {addr[0]}:{addr[1]}\r\n{self._headers}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        try:
            conn.writer.write(head + body)
            await conn.writer.drain()
            line = await conn.reader.readline()
        except (ConnectionResetError, BrokenPipeError) as e:
            raise _StaleConnection() from e
        if not line:
            raise _StaleConnection()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError(f"bad status line {line!r}")
        status = int(parts[1])
        length, chunked, keep = None, False, parts[0] == b"HTTP/1.1"
        while True:
            h = await conn.reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection":
                keep = value != "close" and (keep or value == "keep-alive")
        if chunked:
            chunks = []
            while True:
                size = int((await conn.reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while (await conn.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(await conn.reader.readexactly(size))
                await conn.reader.readline()
            data = b"".join(chunks)
        elif length is not None:
            data = await conn.reader.readexactly(length)
        else:
            data = await conn.reader.read()
            keep = False
        return status, data, keep

    async def close(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()


class _StaleConnection(Exception):
    pass
