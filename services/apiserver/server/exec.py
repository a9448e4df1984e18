"""pods/exec: the WebSocket relay between kubectl and the node agent's kubelet API.

kubectl (1.30+) opens `GET /api/v1/namespaces/{ns}/pods/{name}/exec?command=..&container=..
&stdin=..&stdout=..&stderr=..&tty=..` with `Upgrade: websocket` and the subprotocols
v5.channel.k8s.io / v4.channel.k8s.io. The apiserver authenticates the request, resolves the
pod's container and node as for pods/log, dials the node agent's `/exec/{ns}/{pod}/{container}`
with the same query and subprotocols, accepts kubectl's connection with the subprotocol the
node agent chose, and copies the channel-prefixed binary messages both ways until either side
closes. Failures before the upgrade are answered with a Status (a denial response); kubectl then
retries over SPDY (a POST without WebSocket), which `preflight` answers with the same error.
"""
from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from kubeling.shared.rawhttp import RawHTTPError

from ..api import errors
from ..storage import StoreError
from . import codec
from .routes import parse

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
EXEC_PARAMS = ("command", "container", "stdin", "stdout", "stderr", "tty")


def exec_container(obj: dict[str, Any], name: str, requested: str | None) -> str:
    """The container an exec targets: ?container=, the default-container annotation, or the only one."""
    spec = obj.get("spec") or {}
    containers = [c.get("name") for c in spec.get("containers") or []]
    cname = requested or (obj["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if not cname:
        if len(containers) != 1:
            raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]")
        cname = containers[0]
    all_names = containers + [c.get("name") for c in spec.get("initContainers") or []]
    if cname not in all_names:
        raise errors.bad_request(f"container {cname} is not valid for pod {name}")
    if not spec.get("nodeName"):
        raise errors.bad_request(f'container "{cname}" in pod "{name}" is waiting to start: ContainerCreating')
    return cname


def _kubelet_error(status: int, body: str) -> Response:
    """The node agent's refusal, relayed as it came (upstream proxies the kubelet's response, so
    kubectl prints `unable to upgrade connection: container not found ("x")`)."""
    return PlainTextResponse(body.strip() or f"the node agent answered {status}", status)


async def _target(handlers: Any, ns: str, name: str, query: Any, websocket: bool = False) -> tuple[str, str]:
    """Validate the exec request; the node agent's exec URL (https/wss when kubelets serve TLS) and the container."""
    obj = await handlers.registry.get("", "v1", "pods").get(ns, name)
    if not query.getlist("command"):
        raise errors.bad_request("you must specify at least 1 command")
    cname = exec_container(obj, name, query.get("container"))
    host, port = await handlers._node_endpoint(obj["spec"]["nodeName"])
    params = [(k, v) for k in EXEC_PARAMS if k != "container" for v in query.getlist(k)]
    path = f"/exec/{quote(ns)}/{quote(name)}/{quote(cname)}?{urlencode(params)}"
    return handlers._kubelet_url(host, port, path, websocket), cname


async def preflight(handlers: Any, ns: str, name: str, query: Any) -> Response:
    """An exec request without a WebSocket upgrade (kubectl's SPDY fallback): the node agent's own
    verdict (container not found, not running) when it has one, else the reason it needs WebSocket."""
    url, _ = await _target(handlers, ns, name, query)
    try:
        async with handlers._kubelet_http(10) as client:
            r = await client.get(url)
    except RawHTTPError as e:
        raise errors.StatusError(503, "ServiceUnavailable", f"cannot reach the node agent: {e}") from None
    if r.status_code in (404, 400, 401, 403) and "WebSocket upgrade" not in r.text:  # incl. the kubelet refusing us
        return _kubelet_error(r.status_code, r.text)
    raise errors.bad_request("kubeling serves exec over WebSocket only (v5.channel.k8s.io, v4.channel.k8s.io); "
                              "SPDY upgrades are not supported")


async def websocket_endpoint(server: Any, ws: WebSocket) -> None:
    import websockets
    from websockets.asyncio.client import connect

    async def deny(err: errors.StatusError) -> None:
        await ws.send_denial_response(codec.status_response(err))

    path = ws.url.path.rstrip("/")
    try:
        rp = parse(path, lambda g, r: g == "" and r == "pods")
        if rp is None or rp.group != "" or rp.resource != "pods" or rp.name is None or rp.namespace is None:
            raise errors.route_not_found()
        if rp.subresource != "exec":
            raise errors.StatusError(400, "BadRequest", f"{rp.subresource or 'this resource'} is not served over WebSocket by kubeling")
        offered = [p for p in ws.scope.get("subprotocols") or [] if p in PROTOCOLS]
        if not offered:
            raise errors.bad_request(f"no supported streaming subprotocol; supported: {', '.join(PROTOCOLS)}")
        url, _ = await _target(server.handlers, rp.namespace, rp.name, ws.query_params, websocket=True)
    except errors.StatusError as e:
        await deny(e)
        return
    except StoreError as e:
        await deny(errors.unavailable(f"the store is unavailable: {e}"))
        return
    try:
        upstream = await connect(url, subprotocols=offered, ping_interval=None, max_size=None,
                                 open_timeout=10, ssl=server.handlers.kubelet_tls)
    except websockets.exceptions.InvalidStatus as e:
        await ws.send_denial_response(_kubelet_error(e.response.status_code, (e.response.body or b"").decode(errors="replace")))
        return
    except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
        await deny(errors.StatusError(503, "ServiceUnavailable", f"cannot reach the node agent: {e}"))
        return
    await ws.accept(subprotocol=upstream.subprotocol)

    async def down() -> None:  # node agent -> kubectl
        try:
            async for msg in upstream:
                await ws.send_bytes(msg if isinstance(msg, bytes) else msg.encode())
        except (websockets.exceptions.ConnectionClosed, WebSocketDisconnect, OSError, RuntimeError):
            pass

    async def up() -> None:  # kubectl -> node agent
        try:
            while True:
                m = await ws.receive()
                if m["type"] == "websocket.disconnect":
                    return
                data = m.get("bytes")
                if data is None and m.get("text") is not None:
                    data = m["text"].encode()
                if data is not None:
                    await upstream.send(data)
        except (WebSocketDisconnect, websockets.exceptions.ConnectionClosed, RuntimeError, OSError):
            pass

    tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[0] not in done:  # kubectl went away first: end the command's connection too
            await upstream.close()
    finally:
        for t in tasks:
            t.cancel()
        await upstream.close()
        if ws.client_state == WebSocketState.CONNECTED and ws.application_state == WebSocketState.CONNECTED:
            try:
                await ws.close(1000)
            except (RuntimeError, WebSocketDisconnect, OSError):
                pass  # kubectl is already gone
