"""The components' HTTP server (the kubelet API, fake container ports) against hostile clients,
over real sockets on loopback: a malformed Content-Length is a 400 and the server keeps serving,
a body is never read before the handler (so an unauthenticated caller gets its 401 while its body
is still on the wire), the head is capped at 1 MiB (431), slow heads and bodies are cut off."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from kubeling.services.node.kubelet.auth import AlwaysAllow, KubeletAuth
from kubeling.shared.httpserver import HTTPServer, Request, Response, text


async def exchange(port: int, data: bytes, read_timeout: float = 10.0) -> bytes:
    """Send `data`, then read until the server closes (or `read_timeout`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(read_timeout):
            return await reader.read()
    finally:
        writer.close()


def serve(handler: Callable[[Request], Awaitable[Response]], test: Callable[[int], Awaitable[None]], **kw: float) -> None:
    async def main() -> None:
        srv = await HTTPServer(handler, "127.0.0.1", 0, **kw).start()
        try:
            await test(srv.port)
        finally:
            await srv.close()
    asyncio.run(main())


async def echo(req: Request) -> Response:
    return text(f"{req.method} {req.path} {len(await req.read_body())}\n")


@pytest.mark.parametrize("length", [b"abc", b"-5", b"5, 6", b"0x10", b"\xd9\xa3", b" "], ids=repr)
def test_bad_content_length_is_a_400_and_the_server_keeps_serving(length):
    async def test(port: int) -> None:
        out = await exchange(port, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: " + length + b"\r\n\r\nabc")
        assert out.startswith(b"HTTP/1.1 400 ") and b"bad Content-Length" in out
        ok = await exchange(port, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
        assert out.startswith(b"HTTP/1.1 400 ") and ok.startswith(b"HTTP/1.1 200 ") and ok.endswith(b"POST /x 3\n")
    serve(echo, test)


def test_unauthenticated_caller_is_refused_before_its_body_is_read():
    """The kubelet API's guard answers 401 while the declared 2 MB body has not been sent at all."""
    guard = KubeletAuth("node-1", AlwaysAllow(), anonymous=False)
    reached: list[Request] = []

    async def api(req: Request) -> Response:
        reached.append(req)
        return text("ok")

    async def test(port: int) -> None:
        head = b"POST /exec/default/p/c HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n1234567"
        out = await exchange(port, head)
        assert out.startswith(b"HTTP/1.1 401 ") and out.endswith(b"Unauthorized") and not reached
    serve(guard.wrap(api), test)


def test_declared_body_beyond_the_cap_is_a_413():
    async def test(port: int) -> None:
        out = await exchange(port, b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 413 ")
    serve(echo, test)


@pytest.mark.parametrize("head", [
    b"GET /x HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 200) for i in range(6000)) + b"\r\n",
    b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * (2 << 20) + b"\r\n\r\n",
], ids=["many headers", "one long header"])
def test_header_flood_is_a_431(head):
    async def test(port: int) -> None:
        assert (await exchange(port, head)).startswith(b"HTTP/1.1 431 ")
    serve(echo, test)


@pytest.mark.parametrize("head", [b"GARBAGE\r\n\r\n", b"GET /x SPDY/3\r\n\r\n", b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n"], ids=repr)
def test_malformed_heads_are_400s(head):
    async def test(port: int) -> None:
        assert (await exchange(port, head)).startswith(b"HTTP/1.1 400 ")
    serve(echo, test)


def test_slow_head_and_slow_body_are_cut_off():
    async def test(port: int) -> None:
        # a head that never completes: the connection is closed without an answer
        assert await exchange(port, b"GET /x HTTP/1.1\r\nHost: a\r\n") == b""
        # 7 bytes of a declared 2 MB body: the handler's read gives up and the caller gets a 400
        out = await exchange(port, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n1234567")
        assert out.startswith(b"HTTP/1.1 400 ") and b"did not arrive" in out
    serve(echo, test, head_timeout=0.5, body_timeout=0.5)


def test_unread_body_is_drained_before_close():
    """A handler that ignores the body still lets a client that sends one read the answer."""
    async def ignore(req: Request) -> Response:
        return text("ok\n")

    async def test(port: int) -> None:
        body = b"x" * (1 << 20)
        out = await exchange(port, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"ok\n")
    serve(ignore, test)


@pytest.mark.parametrize("query,status,body", [
    ({"tailLines": ["x"]}, 400, '{"message": "Unable to decode query."}'),
    ({"limitBytes": ["99999999999999999999"]}, 400, '{"message": "Unable to decode query."}'),
    ({"sinceSeconds": ["1.5"]}, 400, '{"message": "Unable to decode query."}'),
    ({"tailLines": ["-1"]}, 422, '{"message": "Invalid request."}'),
    ({"limitBytes": ["0"]}, 422, '{"message": "Invalid request."}'),
    ({"tail": ["all"], "sinceSeconds": ["0"]}, 422, '{"message": "Invalid request."}'),
])
def test_kubelet_log_options_are_decoded_before_anything_else(query, status, body):
    """The kubelet's containerLogs answers a query that does not decode with a 400 and one
    ValidatePodLogOptions refuses with a 422 (pkg/kubelet/server/server.go), never a 500."""
    from kubeling.services.node.kubelet.server import container_logs
    resp = asyncio.run(container_logs(None, Request("GET", "/containerLogs/ns/p/c", query, {}), "ns", "p", "c"))  # type: ignore[arg-type]
    assert (resp.status, resp.body.decode()) == (status, body)
