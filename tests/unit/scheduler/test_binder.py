"""The binder's HTTP/1.1 exchange against a small server on loopback: what it sends, how it
reads Content-Length and chunked answers, Status errors, stale kept-alive connections, failover."""
from __future__ import annotations

import asyncio
import json
import socket

import pytest

from kubeling.services.scheduler.binder import Binder
from kubeling.shared.client import ApiError, Unavailable
from kubeling.shared.kubeconfig import ClientConfig


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Answers each request with the next scripted reply; records what it received."""

    def __init__(self, replies: list[bytes | None]) -> None:
        self.replies = replies
        self.requests: list[tuple[str, dict[str, str], dict]] = []
        self.connections = 0

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                line = await r.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (h := await r.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = json.loads(await r.readexactly(int(headers["content-length"])))
                self.requests.append((line.decode().strip(), headers, body))
                reply = self.replies.pop(0)
                if reply is None:  # drop the connection without answering, as a restarting server would
                    return
                w.write(reply)
                await w.drain()
        finally:
            w.close()


def _json_reply(code: int, obj: dict, chunked: bool = False, close: bool = False) -> bytes:
    data = json.dumps(obj).encode()
    reason = {201: "Created", 409: "Conflict"}.get(code, "OK")
    extra = "Connection: close\r\n" if close else ""
    if chunked:
        half = len(data) // 2
        body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, data[:half], len(data) - half, data[half:])
        return f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n{extra}Transfer-Encoding: chunked\r\n\r\n".encode() + body
    return f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n{extra}Content-Length: {len(data)}\r\n\r\n".encode() + data


def test_binder_posts_bindings_keeps_connections_and_reports_status_errors():
    ok = {"kind": "Status", "status": "Success", "code": 201}
    conflict = {"kind": "Status", "status": "Failure", "code": 409, "reason": "Conflict",
                "message": 'Operation cannot be fulfilled on pods/binding "p2": pod p2 is already assigned to node "b"'}

    async def go() -> None:
        srv = Server([_json_reply(201, ok), _json_reply(409, conflict, chunked=True), _json_reply(201, ok, close=True),
                      _json_reply(201, ok)])
        server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        b = Binder(ClientConfig(servers=[f"http://127.0.0.1:{port}"], token="s3cret"))
        try:
            assert (await b.bind("default", "p1", "a", "uid-1"))["status"] == "Success"
            with pytest.raises(ApiError) as e:
                await b.bind("default", "p2", "a")
            assert e.value.code == 409 and e.value.reason == "Conflict" and "already assigned" in str(e.value)
            await b.bind("default", "p3", "a")  # answered with Connection: close
            await b.bind("default", "p4", "a")  # so this one needs a new connection
        finally:
            await b.aclose()
            server.close()
            await server.wait_closed()
        line, headers, body = srv.requests[0]
        assert line == "POST /api/v1/namespaces/default/pods/p1/binding HTTP/1.1"
        assert headers["authorization"] == "Bearer s3cret" and headers["content-type"] == "application/json"
        assert body == {"apiVersion": "v1", "kind": "Binding",
                        "metadata": {"name": "p1", "namespace": "default", "uid": "uid-1"},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": "a"}}
        assert "uid" not in srv.requests[1][2]["metadata"]
        assert srv.connections == 2  # p1..p3 on one kept-alive connection, p4 on a new one
    asyncio.run(go())


def test_binder_fails_over_when_nothing_was_sent_and_replaces_stale_connections():
    ok = {"kind": "Status", "status": "Success"}

    async def go() -> None:
        srv = Server([_json_reply(201, ok), None, _json_reply(201, ok)])
        server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        dead = _unused_port()
        b = Binder(ClientConfig(servers=[f"http://127.0.0.1:{dead}", f"http://127.0.0.1:{port}"]))
        try:
            await b.bind("ns", "a", "n1")  # the first URL refuses: failover
            # the server drops the kept-alive connection while reading the next request: a fresh one is used
            await b.bind("ns", "b", "n1")
            assert [r[2]["metadata"]["name"] for r in srv.requests] == ["a", "b", "b"]
        finally:
            await b.aclose()
            server.close()
            await server.wait_closed()
        with pytest.raises(Unavailable):
            await Binder(ClientConfig(servers=[f"http://127.0.0.1:{dead}"])).bind("ns", "c", "n1")
    asyncio.run(go())
