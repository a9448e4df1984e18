"""REST verbs on resources: one generic handler for every kind, plus the few subresources.

Everything kind-specific is in the strategy; this module only maps HTTP onto the generic store:
GET (get/list/watch, Table or object), POST (create), PUT (update), PATCH (three patch types and
server-side apply), DELETE (one object or a collection), and status/scale/binding/eviction.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..api import errors
from ..api.models import core as core_models
from ..api.schema import check, prune
from ..patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from ..patch.jsonpatch import JSONPatchError
from ..patch.strategic import PatchError
from ..registry.objects import meta
from ..registry.selectors import parse_field_selector, parse_label_selector
from ..registry.store import Store, WatchItem
from ..table.convert import table
from . import codec
from .routes import ResourcePath

log = logging.getLogger("apiserver.handlers")
BOOKMARK_INTERVAL = 60.0


def _dry_run(req: Request) -> bool:
    dr = req.query_params.getlist("dryRun")
    for v in dr:
        if v != "All":
            raise errors.bad_request(f'Invalid dry run value: "{v}": supported values: "All"')
    return bool(dr)


def _field_validation(req: Request) -> str:
    v = req.query_params.get("fieldValidation", "Warn") or "Warn"
    if v not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn", "Strict": got {v!r}')
    return v


def decode_object(store: Store, body: Any, mode: str, warnings: list[str], check_kind: bool = True) -> dict[str, Any]:
    """Type-check and field-validate a body as the kind `store` serves (upstream's strict decoder)."""
    s = store.strategy
    if not isinstance(body, dict):
        raise errors.bad_request(f"{s.kind} in version \"{s.version}\" cannot be handled as a {s.kind}: json: cannot unmarshal into Go value of type {s.kind}")
    if check_kind:
        kind, av = body.get("kind"), body.get("apiVersion")
        if kind and kind != s.kind:
            raise errors.bad_request(f"{kind} in version \"{(av or '').split('/')[-1]}\" cannot be handled as a {s.kind}: no kind \"{kind}\" is registered for version \"{s.api_version}\"")
        if av and av != s.api_version:
            raise errors.bad_request(f"the API version in the data ({av}) does not match the expected API version ({s.api_version})")
    unknown, type_errs = check(body, s.schema)
    if type_errs:
        raise errors.bad_request(f"{s.kind} in version \"{s.version}\" cannot be handled as a {s.kind}: {type_errs[0]}")
    if unknown:
        if mode == "Strict":
            msg = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.bad_request(f"{s.kind} in version \"{s.version}\" cannot be handled as a {s.kind}: strict decoding error: {msg}")
        if mode == "Warn":
            warnings.extend(f'unknown field "{u}"' for u in unknown)
        body = prune(body, s.schema)
    return body


def decode_subresource(body: Any, schema: Any, kind: str, version: str = "v1") -> dict[str, Any]:
    """Bodies of binding, eviction, scale and DeleteOptions: typed like the main kinds."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"{kind} in version \"{version}\" cannot be handled as a {kind}: json: cannot unmarshal into Go value of type {kind}")
    _, type_errs = check(body, schema)
    if type_errs:
        raise errors.bad_request(f"{kind} in version \"{version}\" cannot be handled as a {kind}: {type_errs[0]}")
    return body


def _headers(warnings: list[str]) -> dict[str, str] | None:
    if not warnings:
        return None
    return {"Warning": ", ".join('299 - ' + json.dumps(w) for w in warnings)}


class Handlers:
    def __init__(self, registry: Any) -> None:
        self.registry = registry

    # --- GET ------------------------------------------------------------------------------------
    async def get(self, req: Request, store: Store, rp: ResourcePath) -> Response:
        accept = req.headers.get("accept")
        if rp.name is None:
            q = req.query_params
            labels = parse_label_selector(q.get("labelSelector"))
            fields = parse_field_selector(q.get("fieldSelector"), store.strategy.supported_field_selectors(), store.strategy.kind)
            if q.get("watch") in ("true", "1"):
                return self._watch(req, store, rp, labels, fields)
            try:
                limit = int(q.get("limit") or 0)
            except ValueError:
                raise errors.bad_request(f"invalid limit {q.get('limit')!r}") from None
            items, rv, cont, remaining = await store.list(rp.namespace, labels, fields, limit, q.get("continue") or None,
                                                          from_cache=q.get("resourceVersion") == "0")
            lm: dict[str, Any] = {"resourceVersion": str(rv)}
            if cont:
                lm["continue"] = cont
                if remaining is not None:
                    lm["remainingItemCount"] = remaining
            if codec.wants_table(accept):
                return codec.respond(table(store.strategy, items, q.get("includeObject") or "Metadata", lm))
            for o in items:
                o.pop("apiVersion", None)
                o.pop("kind", None)
            return codec.respond({"kind": f"{store.strategy.kind}List", "apiVersion": store.strategy.api_version,
                                  "metadata": lm, "items": items}, accept=accept)
        obj = await store.get(rp.namespace, rp.name)
        if rp.subresource == "scale":
            return codec.respond(self._scale(store, obj))
        if rp.subresource in ("log", "exec", "attach", "portforward", "proxy"):
            return await self._node_subresource(store, obj, rp, req)
        if rp.subresource not in ("", "status"):
            raise errors.method_not_allowed()
        if codec.wants_table(accept):
            return codec.respond(table(store.strategy, [obj], req.query_params.get("includeObject") or "Metadata",
                                       {"resourceVersion": meta(obj).get("resourceVersion", "")}))
        return codec.respond(obj, accept=accept)

    async def _node_subresource(self, store: Store, obj: dict[str, Any], rp: ResourcePath,
                                req: Request | None = None) -> Response:
        """Logs are proxied to the node agent's kubelet API (`/containerLogs/...`, as upstream);
        exec, attach, port-forward and proxy need connection upgrades kubeling does not serve yet."""
        if store.strategy.resource != "pods":
            raise errors.StatusError(503, "ServiceUnavailable", f'node "{rp.name}" proxying is not supported yet')
        spec = obj.get("spec") or {}
        containers = [c.get("name") for c in spec.get("containers") or []]
        q = req.query_params if req is not None else {}
        cname = q.get("container") or (obj["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
        if not cname:
            if len(containers) != 1:
                raise errors.bad_request(f"a container name must be specified for pod {rp.name}, choose one of: [{' '.join(containers)}]")
            cname = containers[0]
        all_names = containers + [c.get("name") for c in spec.get("initContainers") or []]
        if cname not in all_names:
            raise errors.bad_request(f"container {cname} is not valid for pod {rp.name}")
        if not spec.get("nodeName"):
            raise errors.bad_request(f'container "{cname}" in pod "{rp.name}" is waiting to start: ContainerCreating')
        if rp.subresource != "log":
            raise errors.StatusError(503, "ServiceUnavailable", f"{rp.subresource} needs a streaming connection upgrade, which kubeling does not serve yet")
        return await self._proxy_logs(spec["nodeName"], rp, cname, q)

    async def _proxy_logs(self, node_name: str, rp: ResourcePath, container: str, q: Any) -> Response:
        import httpx
        node = await self.registry.get("", "v1", "nodes").try_get(None, node_name)
        st = (node or {}).get("status") or {}
        port = ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        addrs = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
        host = addrs.get("InternalIP") or addrs.get("Hostname")
        if not port or not host:
            raise errors.StatusError(503, "ServiceUnavailable", f'the node agent of node "{node_name}" has not reported a kubelet endpoint')
        params = {k: q[k] for k in ("tailLines", "follow", "previous", "timestamps", "sinceSeconds", "limitBytes") if q.get(k)}
        url = f"http://{host}:{port}/containerLogs/{rp.namespace}/{rp.name}/{container}"
        client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0))
        try:
            upstream = await client.send(client.build_request("GET", url, params=params), stream=True)
        except httpx.HTTPError as e:
            await client.aclose()
            raise errors.StatusError(503, "ServiceUnavailable", f'cannot reach the node agent of node "{node_name}": {e}') from None
        if upstream.status_code != 200:
            text = (await upstream.aread()).decode(errors="replace")
            await upstream.aclose()
            await client.aclose()
            raise errors.bad_request(text.strip() or f"the node agent answered {upstream.status_code}")

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()
                await client.aclose()
        return StreamingResponse(relay(), media_type="text/plain")

    # --- watch ----------------------------------------------------------------------------------
    def _watch(self, req: Request, store: Store, rp: ResourcePath, labels: Any, fields: Any) -> Response:
        q = req.query_params
        as_table = codec.wants_table(req.headers.get("accept"))
        timeout = None
        if q.get("timeoutSeconds"):
            try:
                timeout = float(q["timeoutSeconds"])
            except ValueError:
                raise errors.bad_request("invalid timeoutSeconds") from None
        bookmarks = q.get("allowWatchBookmarks") == "true"
        initial_end = q.get("sendInitialEvents") == "true"
        if initial_end and not bookmarks:
            raise errors.StatusError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and allowWatchBookmarks is set to true",
                                     {"kind": "ListOptions", "group": "meta.k8s.io",
                                      "causes": [{"reason": "FieldValueForbidden", "message": "Forbidden: sendInitialEvents requires allowWatchBookmarks=true", "field": "sendInitialEvents"}]})
        include = q.get("includeObject") or "Metadata"
        rv = q.get("resourceVersion")
        if rv and rv != "0":
            try:
                int(rv)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{rv}"') from None

        def encode(item: WatchItem) -> bytes:
            obj = item.object
            if as_table and item.type in ("ADDED", "MODIFIED", "DELETED"):
                obj = table(store.strategy, [obj], include, {"resourceVersion": meta(obj).get("resourceVersion", "")})
            return (json.dumps({"type": item.type, "object": obj}, separators=(",", ":")) + "\n").encode()

        async def stream() -> AsyncIterator[bytes]:
            queue: asyncio.Queue[WatchItem | None] = asyncio.Queue()
            last_rv = rv or "0"

            async def pump() -> None:
                try:
                    async for item in store.watch(rp.namespace, labels, fields, None if initial_end else rv, initial_end):
                        await queue.put(item)
                except errors.StatusError as e:
                    await queue.put(WatchItem("ERROR", e.status()))
                except Exception as e:  # the stream must end with a Status, never a torn connection
                    log.exception("watch failed")
                    await queue.put(WatchItem("ERROR", errors.internal(str(e)).status()))
                await queue.put(None)

            task = asyncio.create_task(pump())
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout if timeout else None
            try:
                while True:
                    wait = BOOKMARK_INTERVAL if bookmarks else None
                    if deadline is not None:
                        left = deadline - loop.time()
                        if left <= 0:
                            return
                        wait = min(wait, left) if wait else left
                    try:
                        item = await asyncio.wait_for(queue.get(), wait)
                    except asyncio.TimeoutError:
                        if bookmarks and (deadline is None or loop.time() < deadline):
                            cur = max(int(last_rv or 0), store.cache.rev)
                            yield encode(WatchItem("BOOKMARK", {"kind": store.strategy.kind, "apiVersion": store.strategy.api_version,
                                                                "metadata": {"resourceVersion": str(cur)}}))
                        continue
                    if item is None:
                        return
                    if item.type != "ERROR":
                        last_rv = meta(item.object).get("resourceVersion", last_rv)
                    yield encode(item)
                    if item.type == "ERROR":
                        return
            finally:
                task.cancel()

        ct = "application/json;as=Table;v=v1;g=meta.k8s.io" if as_table else "application/json"
        return StreamingResponse(stream(), media_type=ct, headers={"Cache-Control": "no-cache, private"})

    # --- POST -----------------------------------------------------------------------------------
    async def create(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        warnings: list[str] = []
        if rp.name is not None:
            return await self._post_subresource(req, store, rp, body)
        obj = decode_object(store, body, _field_validation(req), warnings)
        created = await store.create(rp.namespace, obj, _dry_run(req))
        return codec.respond(created, 201, req.headers.get("accept"), _headers(warnings))

    async def _post_subresource(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        s = store.strategy
        if s.resource == "pods" and rp.subresource == "binding":
            body = decode_subresource(body, core_models.Binding, "Binding")
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

            await store.update(rp.namespace, rp.name, bind, subresource="binding", dry_run=_dry_run(req),
                               precondition_rv=(body.get("metadata") or {}).get("resourceVersion") or None)
            return codec.respond(codec.success_status({}) | {"code": 201}, 201)
        if s.resource == "pods" and rp.subresource == "eviction":
            body = decode_subresource(body, core_models.Eviction, "Eviction")
            opts = (body or {}).get("deleteOptions") or {}
            await store.delete(rp.namespace, rp.name, opts, _dry_run(req))
            return codec.respond(codec.success_status({"name": rp.name, "kind": "pods"}) | {"code": 201}, 201)
        if rp.subresource in ("exec", "attach", "portforward", "proxy"):
            obj = await store.get(rp.namespace, rp.name)
            return await self._node_subresource(store, obj, rp, req)
        raise errors.method_not_allowed()

    # --- PUT ------------------------------------------------------------------------------------
    async def replace(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        if rp.name is None:
            raise errors.method_not_allowed()
        warnings: list[str] = []
        dry = _dry_run(req)
        if rp.subresource == "scale":
            return await self._update_scale(store, rp, body, dry)
        if rp.subresource == "finalize" and store.strategy.resource == "namespaces":
            obj = decode_object(store, body, "Ignore", warnings)

            def finalize(cur: dict[str, Any]) -> dict[str, Any]:
                cur.setdefault("spec", {})["finalizers"] = list((obj.get("spec") or {}).get("finalizers") or [])
                meta(cur)["resourceVersion"] = meta(obj).get("resourceVersion") or meta(cur).get("resourceVersion")
                return cur
            out, _ = await store.update(None, rp.name, finalize, subresource="finalize", dry_run=dry)
            return codec.respond(out)
        if rp.subresource not in ("", "status"):
            raise errors.method_not_allowed()
        obj = decode_object(store, body, _field_validation(req), warnings)
        out, _ = await store.update(rp.namespace, rp.name, lambda cur: obj, subresource=rp.subresource, dry_run=dry)
        return codec.respond(out, 200, req.headers.get("accept"), _headers(warnings))

    # --- PATCH ----------------------------------------------------------------------------------
    async def patch(self, req: Request, store: Store, rp: ResourcePath, raw: bytes) -> Response:
        if rp.name is None:
            raise errors.method_not_allowed()
        ptype = codec.PATCH_TYPES.get(codec.media_type(req.headers.get("content-type")))
        body = codec.decode_body(raw, req.headers.get("content-type"), for_patch=True)
        dry = _dry_run(req)
        mode = _field_validation(req)
        warnings: list[str] = []
        s = store.strategy

        def apply(cur: dict[str, Any]) -> dict[str, Any]:
            try:
                if ptype == "json":
                    return apply_json_patch(cur, body)
                if ptype == "merge":
                    return apply_merge_patch(cur, body)
                return apply_strategic_merge_patch(cur, body, s.schema)
            except (JSONPatchError, PatchError) as e:
                raise errors.StatusError(422, "Invalid", str(e)) from None

        if rp.subresource == "scale":
            cur = await store.get(rp.namespace, rp.name)
            scale = self._scale(store, cur)
            if ptype == "json":
                new_scale = apply_json_patch(scale, body)
            elif ptype == "merge":
                new_scale = apply_merge_patch(scale, body)
            else:
                new_scale = apply_strategic_merge_patch(scale, body, None)
            return await self._update_scale(store, rp, new_scale, dry)
        if rp.subresource not in ("", "status"):
            raise errors.method_not_allowed()

        def patched(cur: dict[str, Any]) -> dict[str, Any]:
            before_rv = meta(cur).get("resourceVersion")
            out = apply(cur)
            if not isinstance(out, dict):
                raise errors.StatusError(422, "Invalid", "the patch produced an object that is not a map")
            warnings.clear()
            out = decode_object(store, out, mode, warnings)
            # a patch carries a resourceVersion precondition only when it sets one explicitly
            if meta(out).get("resourceVersion") == before_rv:
                meta(out).pop("resourceVersion", None)
            return out

        async def create_on_apply() -> dict[str, Any]:
            """Server-side apply of an object that does not exist yet creates it (201)."""
            obj = decode_object(store, copy.deepcopy(body), mode, warnings)
            meta(obj).setdefault("name", rp.name)
            return await store.create(rp.namespace, obj, dry)

        if ptype == "apply" and not isinstance(body, dict):
            raise errors.bad_request("apply patch must be a YAML or JSON object")
        out, created = await store.update(rp.namespace, rp.name, patched, subresource=rp.subresource, dry_run=dry,
                                          create_if_missing=create_on_apply if ptype == "apply" else None)
        return codec.respond(out, 201 if created else 200, req.headers.get("accept"), _headers(warnings))

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
        body = decode_subresource(body, core_models.Scale, "Scale")
        replicas = (body.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.bad_request("Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas of type int32")
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

    # --- DELETE ---------------------------------------------------------------------------------
    async def delete(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        opts = decode_subresource(body, core_models.DeleteOptions, "DeleteOptions") if body not in ({}, None) else {}
        q = req.query_params
        if q.get("gracePeriodSeconds"):
            try:
                opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
            except ValueError:
                raise errors.bad_request(f'invalid gracePeriodSeconds "{q["gracePeriodSeconds"]}"') from None
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q["propagationPolicy"]
        dry = _dry_run(req) or bool(opts.get("dryRun"))
        if rp.subresource:
            raise errors.method_not_allowed()
        if rp.name is None:
            labels = parse_label_selector(q.get("labelSelector"))
            fields = parse_field_selector(q.get("fieldSelector"), store.strategy.supported_field_selectors(), store.strategy.kind)
            items, rv, _, _ = await store.list(rp.namespace, labels, fields)
            out = []
            for o in items:
                try:
                    obj, _ = await store.delete(meta(o).get("namespace"), meta(o)["name"], dict(opts), dry)
                    out.append(obj)
                except errors.StatusError as e:
                    if e.code != 404:
                        raise
            return codec.respond({"kind": f"{store.strategy.kind}List", "apiVersion": store.strategy.api_version,
                                  "metadata": {"resourceVersion": str(rv)}, "items": out})
        obj, deleted = await store.delete(rp.namespace, rp.name, opts, dry)
        return codec.respond(obj, 200 if deleted or not dry else 202)
