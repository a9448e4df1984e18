"""shared/rawhttp.py against real servers on 127.0.0.1: framing (Content-Length, chunked,
close), keep-alive reuse, the retry when the server dropped an idle connection, requests with
params/headers/bodies, streaming, TLS with client certificates, the pool's limit and timeout,
idle expiry, and the error classes callers' failover rules depend on."""
from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kubeling.shared import rawhttp
from kubeling.shared.kubeconfig import ClientConfig
from kubeling.shared.pki import CertificateAuthority
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


# --- a scripted server -------------------------------------------------------------------------

Req = tuple[str, str, dict[str, str], bytes]  # method, target, headers (lower-case), body


async def read_request(reader: asyncio.StreamReader) -> Req | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while (h := await reader.readline()) not in (b"\r\n", b""):
        k, _, v = h.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, target, headers, body


def answer(body: bytes = b"ok", status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


Respond = Callable[[Req, asyncio.StreamWriter, int], Awaitable[bool]]  # -> keep the connection open


class Server:
    """Serves each connection's requests with `respond`; counts connections opened and ended."""

    def __init__(self, respond: Respond, tls: ssl.SSLContext | None = None) -> None:
        self.respond = respond
        self.tls = tls
        self.opened = 0
        self.ended = 0
        self.requests: list[tuple[int, Req]] = []
        self.peer_certs: list[Any] = []
        self.handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Server:
        self.srv = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.srv.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.srv.close()
        for t in self.handlers:  # connections the client still holds, handlers still waiting
            t.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.srv.wait_closed()

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cid = self.opened
        self.opened += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        if self.tls:
            self.peer_certs.append(writer.get_extra_info("peercert"))
        try:
            while (req := await read_request(reader)) is not None:
                self.requests.append((cid, req))
                if not await self.respond(req, writer, cid):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:  # the test is over (asyncio.run cancels what is left)
            pass
        finally:
            self.ended += 1
            writer.close()
            self.handlers.discard(task)


async def ok(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
    w.write(answer(f"{req[0]} {req[1]}".encode()))
    await w.drain()
    return True


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition, failing after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


# --- requests ----------------------------------------------------------------------------------

def test_any_method_with_params_headers_and_body():
    async def main() -> None:
        async with Server(ok) as srv, RawHTTPClient(timeout=5, headers={"User-Agent": "ua/1", "Accept": "a/b"}) as c:
            r = await c.request("GET", srv.url("/x?a=1"), params={"b": "two words", "skip": None, "n": 3, "f": True})
            assert (r.status_code, r.text) == (200, "GET /x?a=1&b=two+words&n=3&f=true")
            r = await c.request("PATCH", srv.url("/p"), content=b'{"k":1}',
                                headers={"Content-Type": "application/merge-patch+json", "accept": "x/y"})
            assert r.content == b"PATCH /p"
            r = await c.request("DELETE", srv.url("/d"))
            assert r.headers["content-length"] == "9"
        (c0, get), (c1, patch), (c2, delete) = srv.requests
        assert c0 == c1 == c2 == 0  # one kept-alive connection
        assert get[2]["user-agent"] == "ua/1" and get[2]["accept"] == "a/b"
        assert get[2]["host"] == f"127.0.0.1:{srv.port}" and "content-length" not in get[2]
        assert patch[2]["accept"] == "x/y" and patch[2]["user-agent"] == "ua/1"  # per-request headers override
        assert patch[2]["content-type"] == "application/merge-patch+json" and patch[3] == b'{"k":1}'
        assert delete[0] == "DELETE" and delete[3] == b""
    asyncio.run(main())


def test_response_framings_for_buffered_requests():
    bodies = {
        "/len": answer(b"by length"),
        "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nby \r\n7;ext=1\r\nchunked\r\n0\r\n\r\n",
        "/http10": b"HTTP/1.0 200 OK\r\n\r\nuntil close",
        "/continue": b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"after 100"),
        "/empty": b"HTTP/1.1 204 No Content\r\n\r\n",
    }

    async def respond(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
        w.write(bodies[req[1]])
        await w.drain()
        return req[1] != "/http10"

    async def main() -> None:
        async with Server(respond) as srv, RawHTTPClient(timeout=5) as c:
            assert (await c.get(srv.url("/len"))).content == b"by length"
            assert (await c.get(srv.url("/chunked"))).content == b"by chunked"
            assert (await c.get(srv.url("/continue"))).content == b"after 100"
            r = await c.get(srv.url("/empty"))
            assert (r.status_code, r.content) == (204, b"")
            assert srv.opened == 1
            assert (await c.get(srv.url("/http10"))).content == b"until close"
            assert c._idle_count() == 0  # a close-delimited body leaves nothing to reuse
            assert (await c.get(srv.url("/len"))).content == b"by length"
            assert srv.opened == 2
    asyncio.run(main())


# --- streaming ---------------------------------------------------------------------------------

def test_a_stream_yields_lines_as_chunks_arrive_and_the_connection_is_reused():
    async def main() -> None:
        more = asyncio.Event()

        async def respond(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            if req[1] == "/plain":
                return await ok(req, w, cid)
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            w.write(chunk(b'{"n":1}\n{"n":2,"s"'))  # one line and the start of the next
            await w.drain()
            await more.wait()
            w.write(chunk(b':"x"}\n') + b"0\r\n\r\n")
            await w.drain()
            return True

        async with Server(respond) as srv, RawHTTPClient(timeout=5) as c:
            lines = []
            async with c.stream("GET", srv.url("/watch"), timeout=None) as r:
                assert r.status_code == 200
                async for line in r.aiter_lines():
                    lines.append(line)
                    more.set()  # the rest is sent only once the first line was read
            assert lines == ['{"n":1}', '{"n":2,"s":"x"}']
            assert c._idle_count() == 1  # read to its end: back in the pool
            assert (await c.get(srv.url("/plain"))).content == b"GET /plain"
            assert srv.opened == 1
    asyncio.run(main())


def test_a_stream_left_early_closes_its_connection():
    async def main() -> None:
        async def respond(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            if req[1] == "/plain":
                return await ok(req, w, cid)
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(1000):  # an endless stream, as far as the client is concerned
                w.write(chunk(f"line {i}\n".encode()))
                await w.drain()
                await asyncio.sleep(0)
            return True

        async with Server(respond) as srv, RawHTTPClient(timeout=5) as c:
            async with c.stream("GET", srv.url("/follow")) as r:
                async for line in r.aiter_lines():
                    assert line == "line 0"
                    break
            assert c._idle_count() == 0
            await until(lambda: srv.ended == 1)  # the server saw the connection go
            assert (await c.get(srv.url("/plain"))).content == b"GET /plain"
            assert srv.opened == 2
            # open_stream without a context manager: aread() reads a content-length body to its end
            r = await c.open_stream("GET", srv.url("/plain"))
            assert await r.aread() == b"GET /plain"
            await r.aclose()
            assert c._idle_count() == 1
    asyncio.run(main())


def test_a_stream_that_breaks_off_raises_read_error():
    async def main() -> None:
        async def respond(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            await w.drain()
            return False

        async with Server(respond) as srv, RawHTTPClient(timeout=5) as c:
            with pytest.raises(rawhttp.ReadError) as info:
                async with c.stream("GET", srv.url("/")) as r:
                    await r.aread()
            assert info.value.sent
            with pytest.raises(rawhttp.ReadError):  # buffered: the same
                await c.get(srv.url("/"))
            assert c._idle_count() == 0
    asyncio.run(main())


# --- TLS ---------------------------------------------------------------------------------------

def _pki(tmp: Path) -> tuple[CertificateAuthority, ssl.SSLContext, tuple[str, str]]:
    """A CA, a server context that requires a client certificate from it, and a client pair."""
    ca = CertificateAuthority.create("test-ca")
    ca_crt, _ = ca.keypair().write(tmp, "ca")
    srv_crt, srv_key = ca.issue("server", hosts=("127.0.0.1",), server=True).write(tmp, "server")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca_crt))
    server.load_cert_chain(srv_crt, srv_key)
    server.verify_mode = ssl.CERT_REQUIRED
    cli_crt, cli_key = ca.issue("alice", orgs=("team",), client=True).write(tmp, "alice")
    return ca, server, (str(cli_crt), str(cli_key))


def _uvloop_run(main: Any) -> None:
    uvloop = pytest.importorskip("uvloop")  # the apiserver runs on uvloop (uvicorn's default)
    uvloop.run(main)


@pytest.mark.parametrize("run", [asyncio.run, _uvloop_run], ids=["asyncio", "uvloop"])
def test_tls_with_a_client_certificate(tmp_path, run):
    ca, server_ctx, cert = _pki(tmp_path)

    async def main() -> None:
        async with Server(ok, tls=server_ctx) as srv:
            cfg = ClientConfig(servers=[srv.url()], verify=str(tmp_path / "ca.crt"), cert=cert)
            async with RawHTTPClient(timeout=5, ssl_context=cfg.ssl_context()) as c:
                assert (await c.get(srv.url("/secure"))).content == b"GET /secure"
                assert (await c.request("POST", srv.url("/again"), content=b"x")).content == b"POST /again"
            assert srv.opened == 1
            subject = dict(x[0] for x in srv.peer_certs[0]["subject"])
            assert subject["commonName"] == "alice"

            # no verification (kubeconfig insecure-skip-tls-verify), still presenting the certificate
            insecure = ClientConfig(servers=[srv.url()], verify=False, cert=cert).ssl_context()
            assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
            async with RawHTTPClient(timeout=5, ssl_context=insecure) as c:
                assert (await c.get(srv.url("/insecure"))).status_code == 200

            # the server's certificate from another CA: refused in the handshake, nothing sent
            other = tmp_path / "other"
            other.mkdir()
            CertificateAuthority.create("other").keypair().write(other, "ca")
            wrong = ClientConfig(servers=[srv.url()], verify=str(other / "ca.crt"), cert=cert).ssl_context()
            async with RawHTTPClient(timeout=5, ssl_context=wrong) as c:
                with pytest.raises(rawhttp.ConnectError) as info:
                    await c.get(srv.url("/"))
                assert not info.value.sent

            # no client certificate: the server refuses (in the handshake or at the first read)
            anonymous = ClientConfig(servers=[srv.url()], verify=str(tmp_path / "ca.crt")).ssl_context()
            async with RawHTTPClient(timeout=5, ssl_context=anonymous) as c:
                with pytest.raises(RawHTTPError):
                    await c.get(srv.url("/"))
            assert srv.requests[-1][1][1] == "/insecure"
    run(main())


@pytest.mark.parametrize("run", [asyncio.run, _uvloop_run], ids=["asyncio", "uvloop"])
def test_a_tls_connection_the_server_closed_while_idle_is_not_reused(tmp_path, run):
    """An asyncio TLS server (uvicorn ending an idle keep-alive connection) sends close_notify and
    keeps the TCP connection open until the client answers with its own: the client must see the
    connection as closed, not send the next request into it and wait for an answer that never comes."""
    _, server_ctx, cert = _pki(tmp_path)
    server_ctx.verify_mode = ssl.CERT_NONE

    async def once(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
        await ok(req, w, cid)
        return False  # writer.close(): close_notify, then wait for the client's

    async def main() -> None:
        async with Server(once, tls=server_ctx) as srv:
            ctx = ClientConfig(servers=[], verify=str(tmp_path / "ca.crt")).ssl_context()
            async with RawHTTPClient(timeout=3, ssl_context=ctx) as c:
                assert (await c.get(srv.url("/1"))).content == b"GET /1"
                await until(lambda: srv.ended == 1)  # the server closed the first connection
                # ...and the client noticed: its idle connection is no longer reusable
                await until(lambda: not any(conn.usable() for p in c._pools.values() for conn in p.idle))
                assert (await c.get(srv.url("/2"))).content == b"GET /2"
                assert srv.opened == 2
    run(main())


def test_a_stalled_tls_handshake_is_a_connect_timeout():
    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # never answers the ClientHello
            writer.close()
        srv = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        ctx = ClientConfig(servers=[], verify=False).ssl_context()
        async with RawHTTPClient(timeout=5, connect_timeout=0.3, ssl_context=ctx) as c:
            with pytest.raises(rawhttp.ConnectTimeout) as info:
                await c.get(f"https://127.0.0.1:{port}/")
            assert not info.value.sent and isinstance(info.value, rawhttp.ConnectError)
        srv.close()
        await srv.wait_closed()
    asyncio.run(main())


# --- the pool ----------------------------------------------------------------------------------

def test_the_pool_limit_queues_requests_and_times_out():
    async def main() -> None:
        release = asyncio.Event()

        async def respond(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            if req[1] == "/slow":
                await release.wait()
            return await ok(req, w, cid)

        async with Server(respond) as srv, RawHTTPClient(timeout=10, max_connections=1, pool_timeout=0.2) as c:
            slow = asyncio.create_task(c.get(srv.url("/slow")))
            await until(lambda: len(srv.requests) == 1)
            with pytest.raises(rawhttp.PoolTimeout) as info:
                await c.get(srv.url("/fast"))
            assert not info.value.sent
            c.pool_timeout = 10
            queued = [asyncio.create_task(c.get(srv.url(f"/q{i}"))) for i in range(3)]
            await asyncio.sleep(0)
            assert len(srv.requests) == 1  # all three wait for the one connection
            release.set()
            assert (await slow).content == b"GET /slow"
            assert [(await t).content for t in queued] == [b"GET /q0", b"GET /q1", b"GET /q2"]
            assert srv.opened == 1  # the connection was handed from request to request
            assert [cid for cid, _ in srv.requests] == [0, 0, 0, 0]

            # a waiter cancelled while queued gives up its place without leaking the slot
            release.clear()
            slow = asyncio.create_task(c.get(srv.url("/slow")))
            await until(lambda: len(srv.requests) == 5)
            waiter = asyncio.create_task(c.get(srv.url("/never")))
            await asyncio.sleep(0)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            release.set()
            await slow
            assert (await c.get(srv.url("/after"))).content == b"GET /after"
            assert [r[1] for _, r in srv.requests][-2:] == ["/slow", "/after"]
    asyncio.run(main())


def test_a_failed_connect_frees_its_pool_slot():
    async def main() -> None:
        srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()
        async with RawHTTPClient(timeout=2, max_connections=1, pool_timeout=0.5) as c:
            for _ in range(3):  # a leaked slot would end in PoolTimeout
                with pytest.raises(rawhttp.ConnectError):
                    await c.get(f"http://127.0.0.1:{port}/")
    asyncio.run(main())


def test_idle_connections_expire():
    async def main() -> None:
        async with Server(ok) as srv:
            async with RawHTTPClient(timeout=5, keepalive_expiry=3600) as c:
                await asyncio.gather(*(c.get(srv.url(f"/{i}")) for i in range(5)))
                assert srv.opened == 5 and c._idle_count() == 5
                await c.get(srv.url("/again"))
                assert srv.opened == 5  # reused, nothing expired

            async with RawHTTPClient(timeout=5, keepalive_expiry=0.3) as c:
                await asyncio.gather(*(c.get(srv.url(f"/{i}")) for i in range(5)))
                assert c._idle_count() == 5
                opened = srv.opened
                loop = asyncio.get_running_loop()
                idle_since = max(conn.idle_since for p in c._pools.values() for conn in p.idle)
                await until(lambda: loop.time() > idle_since + 0.3)  # the idle connections are now too old
                await c.get(srv.url("/later"))  # taking from the pool closes every expired connection
                assert srv.opened == opened + 1
                assert c._idle_count() == 1
                await until(lambda: srv.ended >= 5 + 5)  # the first client's five, and these five
    asyncio.run(main())


def test_a_kept_alive_connection_closed_by_the_server_is_retried_once_for_any_method():
    async def main() -> None:
        async def once(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            await ok(req, w, cid)
            return False  # close after every answer, without saying so

        async with Server(once) as srv, RawHTTPClient(timeout=5) as c:
            for method in ("GET", "PUT", "POST", "DELETE"):
                await until(lambda: srv.ended == srv.opened)  # the previous connection is closed server-side
                r = await c.request(method, srv.url("/x"), content=b"{}")
                assert r.content == f"{method} /x".encode()
            assert srv.opened == 4

        async def mute(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            return False  # reads the request, closes without an answer

        async with Server(mute) as srv, RawHTTPClient(timeout=5) as c:
            with pytest.raises(rawhttp.RemoteProtocolError) as info:
                await c.get(srv.url("/"))  # a fresh connection: no retry
            assert not info.value.sent and srv.opened == 1
    asyncio.run(main())


def test_a_request_without_an_answer_times_out_as_sent():
    async def main() -> None:
        async def hang(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            await asyncio.Event().wait()
            return False

        async with Server(hang) as srv, RawHTTPClient(timeout=0.2, max_connections=1, pool_timeout=1) as c:
            with pytest.raises(rawhttp.ReadTimeout) as info:
                await c.request("POST", srv.url("/"), content=b"{}")
            assert info.value.sent
            with pytest.raises(rawhttp.ReadTimeout):
                await c.post(srv.url("/"), b"{}")  # the slot of the first was given back
            assert c._idle_count() == 0
    asyncio.run(main())
