"""Subresources that are not plain views of the object: binding, eviction, scale, and the node
agent's log endpoint (exec is relayed over WebSocket by exec.py; attach/port-forward answer with a Status)."""
from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from kubeling.shared.rawhttp import RawHTTPClient, RawHTTPError

from ..api import errors
from ..api.models import core as core_models
from ..patch import apply_patch
from ..registry.objects import meta
from ..registry.store import Store
from . import codec
from .routes import ResourcePath


def kubelet_client_context(cert_file: str | None, key_file: str | None, ca_file: str | None) -> ssl.SSLContext:
    """How the apiserver reaches kubelets once they serve HTTPS: presenting
    `--kubelet-client-certificate` (kubeadm's apiserver-kubelet-client) and verifying the kubelet's
    serving certificate against `--kubelet-certificate-authority`; without that CA upstream does
    not verify kubelet certificates (self-signed serving certificates), and neither does this."""
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if not ca_file:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file or cert_file)
    return ctx


def _same_object(body: dict[str, Any], rp: ResourcePath, kind: str) -> None:
    """A Binding or an Eviction names the pod it binds or evicts; it must be the pod of the URL
    (pkg/registry/core/pod/storage/storage.go BindingREST.Create, eviction.go), and its namespace,
    when set, the URL's (rest.EnsureObjectNamespaceMatchesRequestNamespace)."""
    md = body.get("metadata") or {}
    if md.get("name", "") != rp.name:
        raise errors.bad_request(f"name in URL does not match name in {kind} object")
    if md.get("namespace") and md["namespace"] != rp.namespace:
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")


class SubresourceHandlers:
    registry: Any
    kubelet_tls: ssl.SSLContext | None = None  # set: kubelets are reached over HTTPS with this context

    def _kubelet_url(self, host: str, port: int, path: str, websocket: bool = False) -> str:
        scheme = ("wss" if websocket else "https") if self.kubelet_tls else ("ws" if websocket else "http")
        return f"{scheme}://{host}:{port}{path}"

    def _kubelet_http(self, timeout: float | None, connect_timeout: float | None = None) -> RawHTTPClient:
        """A client for one call to a node agent, closed after it (`async with`). `timeout` bounds
        the answer (None: a followed log stream); the connect timeout defaults to the same."""
        return RawHTTPClient(timeout=timeout, connect_timeout=connect_timeout or timeout or 5.0,
                             max_connections=1, ssl_context=self.kubelet_tls)

    async def _post_subresource(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        s = store.strategy
        if s.resource == "pods" and rp.subresource == "binding":
            body = codec.decode_subresource(body, core_models.Binding, "Binding")
            _same_object(body, rp, "Binding")
            target = (body or {}).get("target") or {}
            node = target.get("name")
            if not node:
                raise errors.StatusError(422, "Invalid", f'Binding.meta.k8s.io "{rp.name}" is invalid: target.name: Required value',
                                         {"name": rp.name, "kind": "Binding", "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "target.name"}]})

            def bind(cur: dict[str, Any]) -> dict[str, Any]:
                if meta(cur).get("deletionTimestamp"):
                    raise errors.conflict("pods", rp.name, "", f"pod {rp.name} is being deleted, cannot be assigned to a host")
                if (cur.get("spec") or {}).get("nodeName"):
                    raise errors.conflict("pods", rp.name, "", f"pod {rp.name} is already assigned to node \"{cur['spec']['nodeName']}\"")
                cur.setdefault("spec", {})["nodeName"] = node
                ann = (body.get("metadata") or {}).get("annotations")
                if ann:
                    meta(cur).setdefault("annotations", {}).update(ann)
                conds = cur.setdefault("status", {}).setdefault("conditions", [])
                conds[:] = [c for c in conds if c.get("type") != "PodScheduled"]
                from ..registry.objects import rfc3339
                conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339()})
                return cur

            await store.update(rp.namespace, rp.name, bind, subresource="binding", dry_run=codec.dry_run(req),
                               precondition_rv=(body.get("metadata") or {}).get("resourceVersion") or None)
            return codec.respond(codec.success_status({}) | {"code": 201}, 201)
        if s.resource == "pods" and rp.subresource == "eviction":
            body = codec.decode_subresource(body, core_models.Eviction, "Eviction")
            _same_object(body, rp, "Eviction")
            opts = (body or {}).get("deleteOptions") or {}
            await store.delete(rp.namespace, rp.name, opts, codec.dry_run(req))
            return codec.respond(codec.success_status({"name": rp.name, "kind": "pods"}) | {"code": 201}, 201)
        hook = getattr(s, "create_subresource", None)
        if hook is not None and rp.subresource in {x[0] for x in s.extra_subresources}:  # serviceaccounts/token
            return codec.respond(await hook(self.registry, rp, body, getattr(req.state, "user", None)), 201)
        if rp.subresource in ("exec", "attach", "portforward", "proxy"):
            obj = await store.get(rp.namespace, rp.name)
            return await self._node_subresource(store, obj, rp, req)
        raise errors.method_not_allowed()

    # --- scale ----------------------------------------------------------------------------------
    def _scale(self, store: Store, obj: dict[str, Any]) -> dict[str, Any]:
        s = store.strategy
        if not s.has_scale:
            raise errors.route_not_found()
        md = meta(obj)
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md},
                "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 0))},
                "status": {"replicas": int((obj.get("status") or {}).get("replicas", 0)), "selector": s.scale_selector(obj)}}

    async def _update_scale(self, store: Store, rp: ResourcePath, body: Any, dry: bool) -> Response:
        if not store.strategy.has_scale:
            raise errors.route_not_found()
        body = codec.decode_subresource(body, core_models.Scale, "Scale")
        replicas = (body.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.bad_request("Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas of type int32")
        if not -(1 << 31) <= replicas < 1 << 31:  # encoding/json's range error for an int32 field
            raise errors.bad_request(f"Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal number {replicas} into Go struct field ScaleSpec.spec.replicas of type int32")
        if replicas < 0:
            raise errors.StatusError(422, "Invalid", f'Scale.autoscaling "{rp.name}" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0',
                                     {"name": rp.name, "kind": "Scale", "group": "autoscaling",
                                      "causes": [{"reason": "FieldValueInvalid", "message": f"Invalid value: {replicas}: must be greater than or equal to 0", "field": "spec.replicas"}]})
        rv = (body.get("metadata") or {}).get("resourceVersion") or None

        def set_replicas(cur: dict[str, Any]) -> dict[str, Any]:
            cur.setdefault("spec", {})["replicas"] = replicas
            return cur
        out, _ = await store.update(rp.namespace, rp.name, set_replicas, subresource="scale", dry_run=dry, precondition_rv=rv)
        return codec.respond(self._scale(store, out))

    async def _patch_scale(self, store: Store, rp: ResourcePath, ptype: str, body: Any, dry: bool) -> Response:
        """PATCH on /scale: the patch applies to the Scale built from the object (no schema: Scale has no
        merge keys), with every patch error a Status as on the object itself."""
        cur = await store.get(rp.namespace, rp.name)
        new_scale = apply_patch(ptype, self._scale(store, cur), body, None)
        return await self._update_scale(store, rp, new_scale, dry)

    async def _node_subresource(self, store: Store, obj: dict[str, Any], rp: ResourcePath,
                                req: Request | None = None) -> Response:
        """Logs are proxied to the node agent's kubelet API (`/containerLogs/...`, as upstream);
        exec is served over WebSocket (exec.py); attach and port-forward need upgrades kubeling does not serve."""
        if store.strategy.resource == "nodes":
            return await self._proxy_node(rp, req)
        if store.strategy.resource != "pods":
            raise errors.method_not_allowed()
        if rp.subresource == "exec" and req is not None:  # a request without a WebSocket upgrade (see exec.py)
            from .exec import preflight
            return await preflight(self, rp.namespace or "", rp.name or "", req.query_params)
        from .exec import exec_container
        spec = obj.get("spec") or {}
        q = req.query_params if req is not None else {}
        cname = exec_container(obj, rp.name or "", q.get("container"))
        if rp.subresource != "log":
            raise errors.StatusError(503, "ServiceUnavailable", f"{rp.subresource} needs a streaming connection upgrade, which kubeling does not serve yet")
        return await self._proxy_logs(spec["nodeName"], rp, cname, q)

    async def _node_endpoint(self, node_name: str) -> tuple[str, int]:
        """The node agent's kubelet API address, from the Node's status (as upstream resolves it)."""
        node = await self.registry.get("", "v1", "nodes").try_get(None, node_name)
        if node is None:
            raise errors.not_found("nodes", node_name)
        st = node.get("status") or {}
        port = ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        addrs = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
        host = addrs.get("InternalIP") or addrs.get("Hostname")
        if not port or not host:
            raise errors.StatusError(503, "ServiceUnavailable", f'the node agent of node "{node_name}" has not reported a kubelet endpoint')
        return host, int(port)

    async def _proxy_node(self, rp: ResourcePath, req: Request | None) -> Response:
        """`nodes/<name>/proxy/<path>`: a GET relayed to the node agent (`kubectl get --raw .../proxy/pods`)."""
        if req is None or req.method != "GET":
            raise errors.method_not_allowed("kubeling proxies only GET requests to node agents")
        host, port = await self._node_endpoint(rp.name or "")
        try:
            async with self._kubelet_http(30) as client:
                r = await client.get(self._kubelet_url(host, port, f"/{rp.rest}"), params=dict(req.query_params))
        except RawHTTPError as e:
            raise errors.StatusError(503, "ServiceUnavailable", f'cannot reach the node agent of node "{rp.name}": {e}') from None
        return Response(r.content, r.status_code, media_type=r.headers.get("content-type", "text/plain"))

    async def _proxy_logs(self, node_name: str, rp: ResourcePath, container: str, q: Any) -> Response:
        host, port = await self._node_endpoint(node_name)
        params = {k: q[k] for k in ("tailLines", "follow", "previous", "timestamps", "sinceSeconds", "limitBytes") if q.get(k)}
        url = self._kubelet_url(host, port, f"/containerLogs/{rp.namespace}/{rp.name}/{container}")
        client = self._kubelet_http(None, connect_timeout=5.0)
        try:
            upstream = await client.open_stream("GET", url, params=params)
        except RawHTTPError as e:
            await client.aclose()
            raise errors.StatusError(503, "ServiceUnavailable", f'cannot reach the node agent of node "{node_name}": {e}') from None
        if upstream.status_code != 200:
            text = (await upstream.aread()).decode(errors="replace")
            await upstream.aclose()
            await client.aclose()
            if upstream.status_code in (401, 403):  # the kubelet refused us: upstream's NewGenericServerResponse
                message = text.strip() if upstream.status_code == 403 else "the server has asked for the client to provide credentials"
                raise errors.StatusError(upstream.status_code, "Forbidden" if upstream.status_code == 403 else "Unauthorized",
                                         f"{message} ( pods/log {rp.name})", {"name": rp.name, "kind": "pods/log"})
            raise errors.bad_request(text.strip() or f"the node agent answered {upstream.status_code}")

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()
                await client.aclose()
        return StreamingResponse(relay(), media_type="text/plain")

