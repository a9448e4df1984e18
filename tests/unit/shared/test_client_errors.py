"""Every transport failure reaches callers of the API client as `Unavailable` (retry later),
never as a transport exception that a caller's `except` would miss; connect failures fail over."""
from __future__ import annotations

import asyncio

import pytest

from kubeling.shared.client import PODS, Client, Unavailable
from kubeling.shared.kubeconfig import ClientConfig
from kubeling.shared import rawhttp
from tests.support.fakehttp import FakeRequest, FakeTransport, json_response


def client(servers: list[str], handler) -> Client:
    c = Client(ClientConfig(servers=servers))
    c._http = FakeTransport(handler)
    return c


@pytest.mark.parametrize("exc", [rawhttp.PoolTimeout("pool"), rawhttp.ReadTimeout("read"), rawhttp.ReadTimeout("write"),
                                 rawhttp.ReadError("write"), rawhttp.ConnectTimeout("connect")])
def test_transport_errors_become_unavailable(exc: Exception):
    def handler(req: FakeRequest) -> rawhttp.Response:
        raise exc

    async def main() -> None:
        with pytest.raises(Unavailable) as info:
            await client(["http://127.0.0.1:1"], handler).get(PODS, "web", "default")
        assert info.value.__cause__ is exc

    asyncio.run(main())


def test_connect_error_fails_over_and_the_working_server_is_remembered():
    seen: list[str] = []

    def handler(req: FakeRequest) -> rawhttp.Response:
        seen.append(req.url.hostname)
        if req.url.hostname == "127.0.0.1":
            raise rawhttp.ConnectError("refused")
        return json_response(200, {"kind": "Pod"})

    async def main() -> None:
        c = client(["http://127.0.0.1:1", "http://127.0.0.2:1"], handler)
        assert (await c.get(PODS, "web", "default"))["kind"] == "Pod"
        assert (await c.get(PODS, "web", "default"))["kind"] == "Pod"
        assert seen == ["127.0.0.1", "127.0.0.2", "127.0.0.2"]

    asyncio.run(main())


def test_a_watch_on_a_full_pool_is_unavailable():
    def handler(req: FakeRequest) -> rawhttp.Response:
        raise rawhttp.PoolTimeout("pool")

    async def main() -> None:
        with pytest.raises(Unavailable):
            async for _ in client(["http://127.0.0.1:1"], handler).watch(PODS):
                pass

    asyncio.run(main())


@pytest.mark.parametrize(("method", "tries"), [("GET", 2), ("PATCH", 2), ("DELETE", 2), ("POST", 1)])
def test_a_dropped_keep_alive_connection_is_retried_once_except_for_post(method: str, tries: int):
    calls: list[str] = []

    def handler(req: FakeRequest) -> rawhttp.Response:
        calls.append(req.method)
        if len(calls) == 1:
            raise rawhttp.RemoteProtocolError("Server disconnected without sending a response.")
        return json_response(200, {"kind": "Pod"})

    async def main() -> None:
        c = client(["http://127.0.0.1:1"], handler)
        if tries == 1:
            with pytest.raises(Unavailable):
                await c.request(method, "/api/v1/namespaces/default/pods", body={})
        else:
            assert (await c.request(method, "/api/v1/namespaces/default/pods/web", body={}))["kind"] == "Pod"
        assert calls == [method] * tries

    asyncio.run(main())
