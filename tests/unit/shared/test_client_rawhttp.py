"""The API client on its real transport (shared/rawhttp.py) against servers on 127.0.0.1: verbs,
params and headers, Status errors, failover, watches (events split across chunks, a broken
stream), TLS from a kubeconfig's CA and client certificate; and the component processes do
not load httpx, httpcore or anyio."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from kubeling.shared.client import PODS, ApiError, Client, Unavailable
from kubeling.shared.kubeconfig import ClientConfig
from tests.unit.shared.test_rawhttp import Req, Server, _pki, answer, chunk

POD = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default"}}


async def api(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
    method, target, _, body = req
    if target.startswith("/api/v1/namespaces/default/pods/missing"):
        status = {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'pods "missing" not found'}
        w.write(answer(json.dumps(status).encode(), "404 Not Found", "Content-Type: application/json\r\n"))
    elif method == "POST":
        w.write(answer(body, "201 Created"))
    else:
        w.write(answer(json.dumps(POD).encode()))
    await w.drain()
    return True


def test_verbs_params_headers_and_errors():
    async def main() -> None:
        async with Server(api) as srv:
            c = Client(ClientConfig(servers=[srv.url("")], token="t0k"), user_agent="test-agent")
            try:
                assert (await c.get(PODS, "web", "default"))["kind"] == "Pod"
                await c.list(PODS, "default", label_selector="app=web", field_selector=None)
                created = await c.create(PODS, {"metadata": {"name": "new"}}, "default")
                assert created == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "new"}}
                await c.patch(PODS, "web", {"metadata": {"labels": {"a": "b"}}}, "default")
                with pytest.raises(ApiError) as info:
                    await c.get(PODS, "missing", "default")
                assert (info.value.code, info.value.reason) == (404, "NotFound")
            finally:
                await c.aclose()
        reqs = [r for _, r in srv.requests]
        assert reqs[1][1] == "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb"
        assert reqs[0][2]["authorization"] == "Bearer t0k" and reqs[0][2]["user-agent"] == "test-agent"
        assert reqs[2][0] == "POST" and reqs[2][2]["content-type"] == "application/json"
        assert reqs[3][0] == "PATCH" and reqs[3][2]["content-type"] == "application/merge-patch+json"
        assert srv.opened == 1
    asyncio.run(main())


def test_a_refused_server_fails_over_and_the_working_one_is_remembered():
    async def main() -> None:
        dead = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        dead_url = f"http://127.0.0.1:{dead.sockets[0].getsockname()[1]}"
        dead.close()
        await dead.wait_closed()
        async with Server(api) as srv:
            c = Client(ClientConfig(servers=[dead_url, srv.url("")]))
            try:
                assert (await c.get(PODS, "web", "default"))["kind"] == "Pod"
                assert c.server == srv.url("")
                await c.create(PODS, POD, "default")  # a POST fails over too when nothing was sent
            finally:
                await c.aclose()
            c = Client(ClientConfig(servers=[dead_url]))
            with pytest.raises(Unavailable):
                await c.get(PODS, "web", "default")
            await c.aclose()
    asyncio.run(main())


def test_a_request_that_times_out_is_unavailable_at_once():
    async def main() -> None:
        async def hang(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            await asyncio.Event().wait()
            return False

        async with Server(hang) as slow, Server(api) as other:
            c = Client(ClientConfig(servers=[slow.url(""), other.url("")]), timeout=0.2)
            with pytest.raises(Unavailable):
                await c.get(PODS, "web", "default")
            assert other.opened == 0  # sent, maybe processed: not tried elsewhere
            await c.aclose()
    asyncio.run(main())


def test_watch_yields_events_split_across_chunks_and_a_broken_stream_is_unavailable():
    async def main() -> None:
        e1 = json.dumps({"type": "ADDED", "object": POD}).encode() + b"\n"
        e2 = json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}}).encode() + b"\n"

        async def watch(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            assert "watch=1" in req[1] and "allowWatchBookmarks=true" in req[1] and "resourceVersion=5" in req[1]
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n")
            w.write(chunk(e1[:10]) + chunk(e1[10:] + e2[:3]) + chunk(e2[3:]) + chunk(b"\n"))
            if "broken" in req[1]:
                w.write(b"ff\r\npartial")  # then the connection drops mid-chunk
                await w.drain()
                return False
            w.write(b"0\r\n\r\n")
            await w.drain()
            return True

        async with Server(watch) as srv:
            c = Client(ClientConfig(servers=[srv.url("")]))
            events = [(t, o["metadata"]) async for t, o in c.watch(PODS, "default", resource_version="5")]
            assert events == [("ADDED", POD["metadata"]), ("BOOKMARK", {"resourceVersion": "7"})]
            got = []
            with pytest.raises(Unavailable):
                async for t, _ in c.watch(PODS, "default", resource_version="5", label_selector="broken"):
                    got.append(t)
            assert got == ["ADDED", "BOOKMARK"]
            await c.aclose()
    asyncio.run(main())


def test_watch_error_status_raises_api_error():
    async def main() -> None:
        async def gone(req: Req, w: asyncio.StreamWriter, cid: int) -> bool:
            w.write(answer(json.dumps({"kind": "Status", "code": 410, "reason": "Expired"}).encode(), "410 Gone"))
            await w.drain()
            return True

        async with Server(gone) as srv:
            c = Client(ClientConfig(servers=[srv.url("")]))
            with pytest.raises(ApiError) as info:
                async for _ in c.watch(PODS):
                    pass
            assert info.value.code == 410
            await c.aclose()
    asyncio.run(main())


def test_tls_from_the_kubeconfig_ca_and_client_certificate(tmp_path):
    _, server_ctx, cert = _pki(tmp_path)

    async def main() -> None:
        async with Server(api, tls=server_ctx) as srv:
            cfg = ClientConfig(servers=[srv.url("")], verify=str(tmp_path / "ca.crt"), cert=cert)
            c = Client(cfg)
            assert (await c.get(PODS, "web", "default"))["kind"] == "Pod"
            await c.aclose()
            subject = dict(x[0] for x in srv.peer_certs[0]["subject"])
            assert subject["commonName"] == "alice"
    asyncio.run(main())


COMPONENTS = ["kubeling.services.apiserver.main", "kubeling.services.apiserver.server.app",
              "kubeling.services.scheduler.main", "kubeling.services.controller_manager.main",
              "kubeling.services.node.main"]


@pytest.mark.parametrize("module", COMPONENTS)
def test_component_processes_do_not_load_httpx(module: str):
    """httpx and its stack cost ~3.3 MB RSS per process. The apiserver still loads anyio and
    sniffio, through Starlette; the other components load neither."""
    banned = ["httpx", "httpcore", "h11", "idna", "trio"]
    if "apiserver" not in module:
        banned += ["anyio", "sniffio"]
    code = (f"import sys, {module}\n"
            f"print(' '.join(m for m in {banned!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{module} loads {out.stdout.strip()}"
