"""OpenAPI v3 documents generated from kubeling's own resource schemas, and the Swagger 2.0
document (/openapi/v2) derived from them.

kubectl needs, per group-version: a PATCH operation per kind carrying
`x-kubernetes-group-version-kind` and a `fieldValidation` parameter (so `create -f`/`apply -f`
hand validation to the server), and schemas whose lists carry `x-kubernetes-patch-merge-key` /
`-strategy` (so `apply` computes correct strategic merge patches). `kubectl explain` reads the
same schemas.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from ..api.models import core as core_models
from ..api.schema import T
from ..registry.strategy import Strategy

_QUERY = ["dryRun", "fieldManager", "fieldValidation", "pretty"]


def _param(name: str, typ: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "description": name, "schema": {"type": typ, "uniqueItems": True}}


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, t: T) -> dict[str, Any]:
        if t.name:
            if t.name not in self.schemas:
                self.schemas[t.name] = {}  # reserve first: definitions may recurse
                self.schemas[t.name] = self.inline(t)
            return {"$ref": f"#/components/schemas/{t.name}"}
        return self.inline(t)

    def field(self, t: T) -> dict[str, Any]:
        """A property: named types are referenced via allOf, as upstream's v3 documents do."""
        s = self.ref(t)
        if "$ref" in s:
            out: dict[str, Any] = {"allOf": [s]}
            if t.description:
                out["description"] = t.description
            out["default"] = {}
            return out
        return s

    def inline(self, t: T) -> dict[str, Any]:
        out: dict[str, Any]
        if t.type == "string":
            out = {"type": "string"}
        elif t.type == "integer":
            out = {"type": "integer", "format": "int32"}
        elif t.type == "boolean":
            out = {"type": "boolean"}
        elif t.type == "number":
            out = {"type": "number", "format": "double"}
        elif t.type == "intstr":
            out = {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]}
            self.schemas.setdefault("io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                                    {"type": "string", "format": "int-or-string",
                                     "description": "IntOrString is a type that can hold an int32 or a string."})
        elif t.type == "quantity":
            out = {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}]}
            self.schemas.setdefault("io.k8s.apimachinery.pkg.api.resource.Quantity",
                                    {"type": "string", "description": "Quantity is a fixed-point representation of a number."})
        elif t.type == "time":
            out = {"type": "string", "format": "date-time"}
        elif t.type == "any":
            out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        elif t.type == "map":
            out = {"type": "object", "additionalProperties": self.field(t.items) if t.items else {"type": "string"}}
        elif t.type == "array":
            out = {"type": "array", "items": self.field(t.items) if t.items else {}}
            if t.merge_key:
                out["x-kubernetes-patch-merge-key"] = t.merge_key
            if t.strategy:
                out["x-kubernetes-patch-strategy"] = t.strategy
            if t.list_type:
                out["x-kubernetes-list-type"] = t.list_type
                if t.list_type == "map" and t.merge_key:
                    out["x-kubernetes-list-map-keys"] = [t.merge_key]
        else:
            out = {"type": "object", "properties": {k: self.field(v) for k, v in t.props.items()}}
            if t.open:
                out["x-kubernetes-preserve-unknown-fields"] = True
            if t.required:
                out["required"] = list(t.required)
        if t.description:
            out["description"] = t.description
        return out


_V3_REF = "#/components/schemas/"
_V2_REF = "#/definitions/"


def _v2_schema(node: Any) -> Any:
    """A v3 schema as Swagger 2.0 writes it: `#/definitions/` references, and a referenced
    property as `$ref` with its description beside it (upstream's v2 documents) instead of v3's
    `allOf` wrapper with a `default`."""
    if isinstance(node, list):
        return [_v2_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        out = {"$ref": all_of[0]["$ref"].replace(_V3_REF, _V2_REF)}
        for k, v in node.items():
            if k not in ("allOf", "default"):
                out[k] = _v2_schema(v)
        return out
    out = {}
    for k, v in node.items():
        out[k] = v.replace(_V3_REF, _V2_REF) if k == "$ref" and isinstance(v, str) else _v2_schema(v)
    return out


def _v2_parameter(p: dict[str, Any]) -> dict[str, Any]:
    """A v3 path or query parameter: v2 puts the schema's type on the parameter itself."""
    out = {k: v for k, v in p.items() if k != "schema"}
    out.update(p.get("schema") or {"type": "string"})
    out.setdefault("uniqueItems", True)
    return out


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in op.items() if k not in ("parameters", "requestBody", "responses")}
    params = [_v2_parameter(p) for p in op.get("parameters") or []]
    body = op.get("requestBody")
    if body:
        content = body.get("content") or {}
        out["consumes"] = list(content)
        schema = next(iter(content.values()), {}).get("schema") or {"type": "object"}
        params.insert(0, {"name": "body", "in": "body", "required": True, "schema": _v2_schema(schema)})
    if params:
        out["parameters"] = params
    out["produces"] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
    out["schemes"] = ["https"]
    out["responses"] = {}
    for code, r in (op.get("responses") or {}).items():
        schema = next(iter((r.get("content") or {}).values()), {}).get("schema")
        out["responses"][code] = {"description": r.get("description", "OK"), **({"schema": _v2_schema(schema)} if schema else {})}
    out["responses"].setdefault("401", {"description": "Unauthorized"})
    return out


def swagger(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One Swagger 2.0 document for every group-version's v3 document (upstream serves one v2
    document for the whole server)."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for doc in docs:
        for name, schema in (doc.get("components") or {}).get("schemas", {}).items():
            definitions[name] = _v2_schema(schema)
        for path, item in doc.get("paths", {}).items():
            out: dict[str, Any] = {}
            for key, value in item.items():
                out[key] = [_v2_parameter(p) for p in value] if key == "parameters" else _v2_operation(value)
            paths[path] = out
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": dict(sorted(paths.items())),
            "definitions": dict(sorted(definitions.items())),
            "securityDefinitions": {"BearerToken": {"description": "Bearer Token authentication", "type": "apiKey",
                                                    "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}]}


class OpenAPI:
    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._docs: dict[str, bytes] = {}
        self._root: bytes | None = None
        self._v2: tuple[bytes, str] | None = None

    def _gv_path(self, s: Strategy) -> str:
        return f"apis/{s.group}/{s.version}" if s.group else "api/v1"

    def _build(self) -> None:
        by_gv: dict[str, list[Strategy]] = {}
        for st in self.registry.stores.values():
            by_gv.setdefault(self._gv_path(st.strategy), []).append(st.strategy)
        paths = {}
        for gv, ss in by_gv.items():
            body = json.dumps(self._gv_doc(ss), separators=(",", ":")).encode()
            self._docs[gv] = body
            h = hashlib.sha512(body).hexdigest()[:128].upper()
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={h}"}
        self._root = json.dumps({"paths": paths}).encode()

    def v2(self) -> tuple[bytes, str]:
        """The Swagger 2.0 document and its ETag (kubectl and tools send If-None-Match)."""
        if self._v2 is None:
            if self._root is None:
                self._build()
            body = json.dumps(swagger([json.loads(d) for d in self._docs.values()]), separators=(",", ":")).encode()
            self._v2 = body, '"' + hashlib.sha512(body).hexdigest()[:128].upper() + '"'
        return self._v2

    def document(self, sub: str) -> bytes | None:
        if self._root is None:
            self._build()
        if sub == "":
            return self._root
        return self._docs.get(sub)

    def _gv_doc(self, ss: list[Strategy]) -> dict[str, Any]:
        b = _Builder()
        paths: dict[str, Any] = {}
        for s in ss:
            b.ref(s.schema)
            schema_name = s.schema.name
            b.schemas[schema_name]["x-kubernetes-group-version-kind"] = [{"group": s.group, "kind": s.kind, "version": s.version}]
            gvk = {"group": s.group, "version": s.version, "kind": s.kind}
            ref = {"$ref": f"#/components/schemas/{schema_name}"}
            base = f"/apis/{s.group}/{s.version}" if s.group else "/api/v1"
            coll = f"{base}/namespaces/{{namespace}}/{s.resource}" if s.namespaced else f"{base}/{s.resource}"
            item = f"{coll}/{{name}}"
            params = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
            if s.namespaced:
                params.append({"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}})

            def op(action: str, desc: str, with_body: bool, query: list[str], code: str = "200") -> dict[str, Any]:
                o: dict[str, Any] = {"description": desc, "operationId": f"{action}{s.kind}",
                                     "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                                     "parameters": [_param(q) for q in query] + ([_param("force", "boolean")] if action == "patch" else []),
                                     "responses": {code: {"description": "OK", "content": {"application/json": {"schema": ref}}}}}
                if with_body:
                    ct = (["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                           "application/strategic-merge-patch+json"] if action == "patch" else ["*/*"])
                    o["requestBody"] = {"content": {c: {"schema": ref if action != "patch" else {"type": "object"}} for c in ct},
                                        "required": True}
                return o

            def sub_op(action: str, desc: str, kind: str, schema_ref: dict[str, Any], gvk: dict[str, str], with_body: bool,
                       query: list[str], code: str = "200") -> dict[str, Any]:
                """An operation on a subresource whose body is another kind (Scale, Binding, Eviction)."""
                o: dict[str, Any] = {"description": desc, "operationId": f"{action}{s.kind}{kind}", "x-kubernetes-action": action,
                                     "x-kubernetes-group-version-kind": gvk, "parameters": [_param(q) for q in query],
                                     "responses": {code: {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}}}
                if with_body:
                    ct = (["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                           "application/strategic-merge-patch+json"] if action == "patch" else ["*/*"])
                    o["requestBody"] = {"content": {c: {"schema": schema_ref if action != "patch" else {"type": "object"}} for c in ct},
                                        "required": True}
                return o

            if s.virtual:  # create-only reviews
                paths[coll] = {"post": op("post", f"create a {s.kind}", True, _QUERY, "201")}
                continue
            paths[coll] = {"parameters": params[1:], "get": op("list", f"list or watch objects of kind {s.kind}", False,
                                                               ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"]),
                           "post": op("post", f"create a {s.kind}", True, _QUERY, "201")}
            paths[item] = {"parameters": params, "get": op("get", f"read the specified {s.kind}", False, ["pretty"]),
                           "put": op("put", f"replace the specified {s.kind}", True, _QUERY),
                           "patch": op("patch", f"partially update the specified {s.kind}", True, _QUERY),
                           "delete": op("delete", f"delete a {s.kind}", False, ["dryRun", "gracePeriodSeconds", "propagationPolicy"])}
            if s.has_scale:  # autoscaling/v1 Scale, as upstream's {resource}/scale operations
                scale = b.ref(core_models.Scale)
                scale_gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
                paths[f"{item}/scale"] = {"parameters": params,
                                          "get": sub_op("get", f"read scale of the specified {s.kind}", "Scale", scale, scale_gvk, False, ["pretty"]),
                                          "put": sub_op("put", f"replace scale of the specified {s.kind}", "Scale", scale, scale_gvk, True, _QUERY),
                                          "patch": sub_op("patch", f"partially update scale of the specified {s.kind}", "Scale", scale,
                                                          scale_gvk, True, _QUERY)}
            if s.resource == "pods":  # the POST-only subresources the scheduler and `kubectl drain` use
                for sub, model, group, version in (("binding", core_models.Binding, "", "v1"),
                                                   ("eviction", core_models.Eviction, "policy", "v1")):
                    ref_sub = b.ref(model)
                    paths[f"{item}/{sub}"] = {"parameters": params,
                                              "post": sub_op("post", f"create {sub} of a Pod", model.name.rsplit(".", 1)[1], ref_sub,
                                                             {"group": group, "version": version, "kind": model.name.rsplit(".", 1)[1]},
                                                             True, _QUERY, "201")}
            if s.has_status:
                paths[f"{item}/status"] = {"parameters": params,
                                           "get": op("get", f"read status of the specified {s.kind}", False, ["pretty"]),
                                           "put": op("put", f"replace status of the specified {s.kind}", True, _QUERY),
                                           "patch": op("patch", f"partially update status of the specified {s.kind}", True, _QUERY)}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
                "components": {"schemas": b.schemas}}
