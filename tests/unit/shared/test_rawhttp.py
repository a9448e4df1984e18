"""The store's raw HTTP/1.1 client: framing (Content-Length, chunked, close), keep-alive reuse,
and the retry when the server dropped an idle connection."""
from __future__ import annotations

import asyncio

import pytest

from kubeling.shared.rawhttp import RawHTTPClient, RawHTTPError

RESPONSES = {
    "/len": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"len\"}",
    "/chunked": b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n6\r\n\"chnk\"\r\n1\r\n}\r\n0\r\nGrpc-Trailer: x\r\n\r\n",
    "/close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"a\":\"close\"}",
}


async def _serve(handled: list[int], drop_after_first: bool = False):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn_id = len(handled)
        handled.append(0)
        while True:
            line = await reader.readline()
            if not line:
                break
            path = line.split()[1].decode()
            length = 0
            while (h := await reader.readline()) not in (b"\r\n", b""):
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            await reader.readexactly(length)
            handled[conn_id] += 1
            writer.write(RESPONSES[path])
            await writer.drain()
            if path == "/close" or drop_after_first:
                break
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_framing_and_keepalive():
    async def main() -> None:
        handled: list[int] = []
        srv = await _serve(handled)
        port = srv.sockets[0].getsockname()[1]
        c = RawHTTPClient(timeout=5)
        assert await c.post(f"http://127.0.0.1:{port}/len", b"{}") == (200, b'{"a":"len"}')
        assert await c.post(f"http://127.0.0.1:{port}/chunked", b"{}") == (400, b'{"a":"chnk"}')
        assert await c.post(f"http://127.0.0.1:{port}/len", b"{}") == (200, b'{"a":"len"}')
        assert handled == [3]  # one connection, reused
        assert await c.post(f"http://127.0.0.1:{port}/close", b"{}") == (200, b'{"a":"close"}')
        assert await c.post(f"http://127.0.0.1:{port}/len", b"{}") == (200, b'{"a":"len"}')
        assert handled == [4, 1]  # Connection: close is honoured
        await c.close()
        srv.close()
        await srv.wait_closed()
    asyncio.run(main())


def test_stale_idle_connection_is_retried_once():
    async def main() -> None:
        handled: list[int] = []
        srv = await _serve(handled, drop_after_first=True)
        port = srv.sockets[0].getsockname()[1]
        c = RawHTTPClient(timeout=5)
        assert (await c.post(f"http://127.0.0.1:{port}/len", b"{}"))[0] == 200
        assert (await c.post(f"http://127.0.0.1:{port}/len", b"{}"))[0] == 200
        assert handled == [1, 1]
        await c.close()
        srv.close()
        await srv.wait_closed()
    asyncio.run(main())


def test_connection_refused_is_a_raw_http_error():
    async def main() -> None:
        srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()
        with pytest.raises(RawHTTPError):
            await RawHTTPClient(timeout=2).post(f"http://127.0.0.1:{port}/len", b"{}")
    asyncio.run(main())
