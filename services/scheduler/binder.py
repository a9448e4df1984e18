"""The binding cycle's transport: POST pods/<name>/binding over kept-alive HTTP/1.1 connections.

Why not the shared httpx client for this one call: a bind is the scheduler's only per-pod
request, dozens are in flight at once, and httpx/httpcore spend more CPU per request in
connection-pool bookkeeping (which walks every pooled connection per request) than the
whole scheduling cycle of a pod takes at 1,000 nodes (measured with py-spy: 44 % of the
scheduler's CPU went to binds, 22 % to filtering and scoring). A bind needs little: one POST
of a small JSON body, one JSON answer framed by Content-Length or chunked encoding. Watches,
lists, events and status patches still use `kubeling.shared.client.Client`.

Same contract as `Client.bind`: the apiserver URLs, bearer token and TLS settings of the
kubeconfig; failover to the next URL only when nothing was sent (connect failed, or a kept-alive
connection turned out closed); a non-2xx answer raises `ApiError` with the decoded Status; a
transport failure raises `Unavailable`.
"""
from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

from kubeling.shared.client import ApiError, Unavailable
from kubeling.shared.kubeconfig import ClientConfig


class _Stale(Exception):
    """A kept-alive connection was closed by the server before it answered: nothing was processed."""


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # a broken socket may fail to close; it is discarded either way
            pass


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """The TLS settings httpx derives from a ClientConfig (verify = bool, CA path or context;
    cert = client certificate and key)."""
    v = config.verify
    if isinstance(v, ssl.SSLContext):
        ctx = v
    elif isinstance(v, str):
        ctx = ssl.create_default_context(cafile=v)
    else:
        ctx = ssl.create_default_context()
        if v is False:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    if config.cert:
        ctx.load_cert_chain(*config.cert)
    return ctx


class Binder:
    def __init__(self, config: ClientConfig, user_agent: str = "kubeling-scheduler", timeout: float = 30.0,
                 connect_timeout: float = 5.0, max_idle: int = 64) -> None:
        self.servers = list(config.servers)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self._current = 0
        self._tls = ssl_context(config) if any(s.startswith("https:") for s in self.servers) else None
        auth = f"Authorization: Bearer {config.token}\r\n" if config.token else ""
        self._extra_headers = f"User-Agent: {user_agent}\r\nAccept: application/json\r\n{auth}"
        self._idle: dict[int, list[_Conn]] = {}

    async def bind(self, namespace: str, name: str, node: str, uid: str | None = None) -> dict[str, Any]:
        binding: dict[str, Any] = {"apiVersion": "v1", "kind": "Binding",
                                   "metadata": {"name": name, "namespace": namespace},
                                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        if uid:
            binding["metadata"]["uid"] = uid
        body = json.dumps(binding, separators=(",", ":")).encode()
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/binding"
        last: Exception | None = None
        for attempt in range(len(self.servers)):
            idx = (self._current + attempt) % len(self.servers)
            try:
                status, data = await self._post(idx, path, body)
            except (OSError, asyncio.TimeoutError, _Stale) as e:
                last = e  # nothing reached this server: the next one may do better
                continue
            self._current = idx
            try:
                decoded = json.loads(data) if data else None
            except ValueError:
                decoded = None
            if status >= 400:
                raise ApiError(status, decoded if isinstance(decoded, dict) else None, data.decode("utf-8", "replace"))
            return decoded if isinstance(decoded, dict) else {}
        raise Unavailable(f"POST {path}: no apiserver reachable ({', '.join(self.servers)}): {last!r}") from last

    async def _post(self, idx: int, path: str, body: bytes) -> tuple[int, bytes]:
        """One exchange on a pooled connection (a stale pooled one is replaced once); raises
        OSError/_Stale/TimeoutError only when the request cannot have been processed."""
        u = urlsplit(self.servers[idx])
        host, port = u.hostname or "127.0.0.1", u.port or (443 if u.scheme == "https" else 80)
        head = (f"POST {u.path.rstrip('/')}{path} HTTP/1.1\r\nHost: {host}:{port}\r\n{self._extra_headers}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        for _ in range(2):
            conn = self._take(idx)
            reused = conn is not None
            if conn is None:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(host, port, ssl=self._tls if u.scheme == "https" else None),
                    self.connect_timeout)
                conn = _Conn(r, w)
            try:
                status, data, keep = await asyncio.wait_for(self._exchange(conn, head + body), self.timeout)
            except _Stale:
                conn.close()
                if reused:
                    continue  # the server had closed the idle connection: retry on a fresh one
                raise
            except asyncio.TimeoutError as e:
                conn.close()  # sent, maybe processed: not safe to fail over
                raise Unavailable(f"POST {path}: timed out after {self.timeout}s") from e
            except (OSError, asyncio.IncompleteReadError, ValueError) as e:
                conn.close()
                raise Unavailable(f"POST {path}: {e!r}") from e
            except BaseException:
                conn.close()
                raise
            if keep:
                self._give(idx, conn)
            else:
                conn.close()
            return status, data
        raise _Stale()

    def _take(self, idx: int) -> _Conn | None:
        pool = self._idle.get(idx)
        while pool:
            conn = pool.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def _give(self, idx: int, conn: _Conn) -> None:
        pool = self._idle.setdefault(idx, [])
        if len(pool) < self.max_idle:
            pool.append(conn)
        else:
            conn.close()

    @staticmethod
    async def _exchange(conn: _Conn, request: bytes) -> tuple[int, bytes, bool]:
        try:
            conn.writer.write(request)
            await conn.writer.drain()
            line = await conn.reader.readline()
        except (ConnectionResetError, BrokenPipeError) as e:
            raise _Stale() from e
        if not line:
            raise _Stale()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError(f"bad status line {line[:80]!r}")
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
            return status, b"".join(chunks), keep
        if length is not None:
            return status, await conn.reader.readexactly(length), keep
        return status, await conn.reader.read(), False

    async def aclose(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()
