"""OpenAPI v3 documents generated from kubeling's own resource schemas.

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


class OpenAPI:
    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._docs: dict[str, bytes] = {}
        self._root: bytes | None = None

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
            if s.has_status:
                paths[f"{item}/status"] = {"parameters": params,
                                           "get": op("get", f"read status of the specified {s.kind}", False, ["pretty"]),
                                           "put": op("put", f"replace status of the specified {s.kind}", True, _QUERY),
                                           "patch": op("patch", f"partially update status of the specified {s.kind}", True, _QUERY)}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
                "components": {"schemas": b.schemas}}
