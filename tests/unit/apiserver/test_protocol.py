"""The apiserver's HTTP protocol (server/protocol.py) on a real uvicorn server on loopback:
malformed requests, header floods and slow heads are answered with a Status and the connection
closed, while well-formed requests on the same server are served as before."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
import uvicorn

from kubeling.services.apiserver.server.protocol import hardened


async def app(scope, receive, send) -> None:  # noqa: ANN001 - a plain ASGI app
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"6")]})
    await send({"type": "http.response.body", "body": b"served"})


def run_server(test: Callable[[int], Awaitable[None]]) -> None:
    async def main() -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off",
                                http=hardened(max_head=64 * 1024, head_timeout=0.5))
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(10):
                while not server.started:
                    await asyncio.sleep(0.01)
            await test(server.servers[0].sockets[0].getsockname()[1])
        finally:
            server.should_exit = True
            await task
    asyncio.run(main())


async def exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


def status_of(answer: bytes) -> dict:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    status = json.loads(body)
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert head.startswith(b"HTTP/1.1 %d " % status["code"])
    return status


@pytest.mark.parametrize("request_bytes,code", [
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n{}", 400),
    (b"GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100) for i in range(4000)) + b"\r\n", 431),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"v" * (1 << 20) + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: a\r\n", 408),  # the rest of the head never comes
], ids=["bad content-length", "newline in target", "unknown method", "many headers", "one long header", "slow head"])
def test_refusals_are_status_objects(request_bytes, code):
    async def test(port: int) -> None:
        assert status_of(await exchange(port, request_bytes))["code"] == code
        ok = await exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ") and ok.endswith(b"served")
    run_server(test)


def test_a_connection_that_sends_nothing_is_closed():
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            assert status_of(await reader.read())["code"] == 408
        writer.close()
    run_server(test)


def test_keep_alive_requests_each_get_a_fresh_head_budget():
    """The head limit counts one request's head, not the connection's total."""
    async def test(port: int) -> None:
        one = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"v" * 40000 + b"\r\n\r\n"
        out = await exchange(port, one + one + b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert out.count(b"HTTP/1.1 200 ") == 3
    run_server(test)
