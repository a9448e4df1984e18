"""rawhttp against a hostile server: a response head it cannot bound (too many header lines, too
many bytes, a line over 64 KiB, endless 100 Continue) or a malformed Content-Length is a
RemoteProtocolError, read no further than the limit, and the client keeps working."""
from __future__ import annotations

import asyncio

import pytest

from kubeling.shared.rawhttp import MAX_HEAD, MAX_HEADERS, MAX_INTERIM, RawHTTPClient, RemoteProtocolError
from tests.unit.shared.test_rawhttp import Req, Server, answer

HOSTILE = {
    "/many-headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n",
    "/big-head": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 60000) for i in range(MAX_HEAD // 60000 + 1)) + b"\r\n",
    "/long-line": b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * (70 * 1024) + b"\r\n\r\n",
    "/endless-continue": b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM + 2) + answer(b"late"),
    "/bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n0123456789",
    "/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
    "/bad-status": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
}


async def respond(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
    w.write(HOSTILE.get(req[1]) or answer(b"fine"))
    await w.drain()
    return req[1] not in HOSTILE


@pytest.mark.parametrize("path", sorted(HOSTILE))
def test_unbounded_or_malformed_heads_are_protocol_errors(path):
    async def main() -> None:
        async with Server(respond) as srv, RawHTTPClient(timeout=10) as c:
            with pytest.raises(RemoteProtocolError):
                await c.get(srv.url(path))
            assert (await c.get(srv.url("/ok"))).content == b"fine"
    asyncio.run(main())


def test_heads_within_the_limits_are_read():
    head = b"HTTP/1.1 100 Continue\r\n\r\n" * MAX_INTERIM
    head += b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS - 1)) + b"Content-Length: 2\r\n\r\nok"

    async def big(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
        w.write(head)
        await w.drain()
        return True

    async def main() -> None:
        async with Server(big) as srv, RawHTTPClient(timeout=10) as c:
            r = await c.get(srv.url("/"))
            assert (r.status_code, r.content, r.headers["x-0"]) == (200, b"ok", "v")
    asyncio.run(main())
