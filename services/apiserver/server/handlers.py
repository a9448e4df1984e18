"""REST verbs on resources: one generic handler for every kind, plus the few subresources.

Everything kind-specific is in the strategy; this module only maps HTTP onto the generic store:
GET (get/list/watch, Table or object), POST (create), PUT (update), PATCH (three patch types and
server-side apply), DELETE (one object or a collection), and status/scale/binding/eviction.
"""
from __future__ import annotations

import copy
import inspect
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..api import errors
from ..api.models import core as core_models
from ..api.schema import check, prune
from ..patch import apply_patch
from ..registry.objects import meta
from ..registry.store import Store
from ..table.convert import table
from ..validation.field import FieldError, forbidden, invalid, invalid_error, required
from . import codec
from .listoptions import list_options, parse_resource_version, query_int64, too_large_resource_version, validate_delete_options
from .routes import ResourcePath
from .subresources import SubresourceHandlers
from .watch import watch_response

log = logging.getLogger("apiserver.handlers")


def _field_validation(req: Request) -> str:
    v = req.query_params.get("fieldValidation", "Warn") or "Warn"
    if v not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn", "Strict": got {v!r}')
    return v


# k8s.io/apimachinery/pkg/apis/meta/v1/validation: FieldManagerMaxLength.
_FIELD_MANAGER_MAX = 128


def _check_options(req: Request, options_kind: str, patch_type: str | None = None) -> None:
    """ValidateCreateOptions / ValidateUpdateOptions / ValidatePatchOptions (the same package): the
    fieldManager is at most 128 bytes of printable characters, an apply patch must name one (kubectl
    defaults it; controllers must set it), and `force` belongs to apply patches only."""
    manager = req.query_params.get("fieldManager", "")
    errs: list[FieldError] = []
    if options_kind == "PatchOptions":
        if patch_type == "apply":
            if not manager:
                errs.append(required("fieldManager", "is required for apply patch"))
        elif "force" in req.query_params:
            errs.append(forbidden("force", "may not be specified for non-apply patch"))
    if len(manager.encode()) > _FIELD_MANAGER_MAX:
        errs.append(FieldError("TooLong", "fieldManager", f"may not be more than {_FIELD_MANAGER_MAX} bytes"))
    errs += [invalid("fieldManager", manager, f"invalid character U+{ord(c):04X} (at position {i})")
             for i, c in enumerate(manager) if not c.isprintable()]
    if errs:
        raise invalid_error(options_kind, "", errs, group="meta.k8s.io")


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


def _headers(warnings: list[str]) -> dict[str, str] | None:
    if not warnings:
        return None
    return {"Warning": ", ".join('299 - ' + json.dumps(w) for w in warnings)}


class Handlers(SubresourceHandlers):
    def __init__(self, registry: Any) -> None:
        self.registry = registry

    # --- GET ------------------------------------------------------------------------------------
    async def get(self, req: Request, store: Store, rp: ResourcePath) -> Response:
        accept = req.headers.get("accept")
        if rp.name is None:
            q = req.query_params
            opts = list_options(q, store.strategy.supported_field_selectors(), store.strategy.kind)
            if opts.watch:
                return watch_response(req, store, rp, opts)
            at = parse_resource_version(opts.resource_version) if opts.match == "Exact" else 0
            if at:
                current = await store.client.current_revision()
                if at > current:
                    raise too_large_resource_version(at, current)
            items, rv, cont, remaining = await store.list(rp.namespace, opts.labels, opts.fields, opts.limit,
                                                          opts.continue_token or None,
                                                          from_cache=opts.resource_version == "0", at_revision=at)
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
        parse_resource_version(req.query_params.get("resourceVersion", ""))  # GetOptions: the storage layer's check
        if req.query_params.get("resourceVersion") == "0" and rp.subresource in ("", "status"):
            obj = await store.get_from_cache(rp.namespace, rp.name)
        else:
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

    # --- POST -----------------------------------------------------------------------------------
    async def create(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        warnings: list[str] = []
        if rp.name is not None:
            return await self._post_subresource(req, store, rp, body)
        _check_options(req, "CreateOptions")
        obj = decode_object(store, body, _field_validation(req), warnings)
        if store.strategy.virtual:
            obj.setdefault("apiVersion", store.strategy.api_version)
            obj.setdefault("kind", store.strategy.kind)
            answer = store.strategy.review(obj, getattr(req.state, "user", None))
            if inspect.isawaitable(answer):  # TokenReview verifies tokens against the store
                answer = await answer
            return codec.respond(answer, 201, req.headers.get("accept"))
        created = await store.create(rp.namespace, obj, codec.dry_run(req))
        return codec.respond(created, 201, req.headers.get("accept"), _headers(warnings))

    # --- PUT ------------------------------------------------------------------------------------
    async def replace(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        if rp.name is None:
            raise errors.method_not_allowed()
        warnings: list[str] = []
        dry = codec.dry_run(req)
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
        _check_options(req, "UpdateOptions")
        obj = decode_object(store, body, _field_validation(req), warnings)
        out, _ = await store.update(rp.namespace, rp.name, lambda cur: obj, subresource=rp.subresource, dry_run=dry)
        return codec.respond(out, 200, req.headers.get("accept"), _headers(warnings))

    # --- PATCH ----------------------------------------------------------------------------------
    async def patch(self, req: Request, store: Store, rp: ResourcePath, raw: bytes) -> Response:
        if rp.name is None:
            raise errors.method_not_allowed()
        ptype = codec.PATCH_TYPES.get(codec.media_type(req.headers.get("content-type")))
        _check_options(req, "PatchOptions", ptype)
        body = await codec.decode_body_async(raw, req.headers.get("content-type"), for_patch=True)
        dry = codec.dry_run(req)
        mode = _field_validation(req)
        warnings: list[str] = []
        s = store.strategy

        def apply(cur: dict[str, Any]) -> dict[str, Any]:
            return apply_patch(ptype or "strategic", cur, body, s.schema)

        if rp.subresource == "scale":
            return await self._patch_scale(store, rp, ptype or "strategic", body, dry)
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

    # --- DELETE ---------------------------------------------------------------------------------
    async def delete(self, req: Request, store: Store, rp: ResourcePath, body: Any) -> Response:
        opts = codec.decode_subresource(body, core_models.DeleteOptions, "DeleteOptions") if body not in ({}, None) else {}
        q = req.query_params
        grace = query_int64(q, "gracePeriodSeconds")  # DeleteOptions from the query: strconv.ParseInt's errors
        if grace is not None:
            opts["gracePeriodSeconds"] = grace
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q["propagationPolicy"]
        validate_delete_options(opts)
        dry = codec.dry_run(req) or bool(opts.get("dryRun"))
        if rp.subresource:
            raise errors.method_not_allowed()
        if rp.name is None:
            lo = list_options(q, store.strategy.supported_field_selectors(), store.strategy.kind)
            items, rv, _, _ = await store.list(rp.namespace, lo.labels, lo.fields)
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
        # upstream answers 202 only for a pending deletion that asked orphanDependents=false
        return codec.respond(obj, 202 if not deleted and opts.get("orphanDependents") is False else 200)
