"""Strategic merge patch, driven by the merge keys in kubeling's schemas.

Supports what kubectl and client libraries send: maps merge, `null` deletes, lists with a merge
key merge item by item (`containers` by name, `ports` by containerPort/port, ...), primitive
lists with strategy merge (finalizers) union, and the directives `$patch: replace|delete|merge`,
`$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.

Errors carry k8s.io/apimachinery/pkg/util/mergepatch's texts. A directive of the wrong shape is a
BadPatch, which upstream answers 400 (handlers/patch.go interpretStrategicMergePatchError); any other
failure is a PatchError, answered 422 (upstream lets these through as 500s, which kubeling does not
answer to bad input). The result is never larger than the original and the patch together.
"""
from __future__ import annotations

from typing import Any

from ..api.bodies import clone
from ..api.schema import T


class PatchError(ValueError):
    """The patch does not apply (422)."""


class BadPatch(PatchError):
    """A directive of the wrong shape (upstream's mergepatch.ErrBadPatchFormat*: 400)."""


def _bad_type(directive: Any, where: dict[str, Any]) -> PatchError:
    return PatchError(f"unknown patch type: {directive} in map: {where}")


def apply_strategic_merge_patch(original: Any, patch: Any, schema: T | None) -> Any:
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object")
    # one copy of each up front: the merge then moves values, and neither input is changed (a
    # conflicting update applies the same patch again)
    return _merge_map(clone(original) if isinstance(original, dict) else {}, clone(patch), schema)


def _merge_map(orig: dict[str, Any], patch: dict[str, Any], schema: T | None) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise _bad_type(directive, patch)
    if "$retainKeys" in patch:
        retain = patch["$retainKeys"]
        if not isinstance(retain, list):
            raise BadPatch("invalid patch format of retainKeys")
        keep = {x for x in retain if isinstance(x, str)}
        for k in list(orig.keys()):
            if k not in keep:
                del orig[k]
    orders: dict[str, list[Any]] = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            if not isinstance(v, list):
                raise BadPatch("invalid patch format of setElementOrder list")
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            if not isinstance(v, list):
                raise BadPatch("invalid patch format of primitive list")
            field = k.split("/", 1)[1]
            if isinstance(orig.get(field), list):
                orig[field] = [x for x in orig[field] if x not in v]
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        sub = schema.child(k) if schema is not None else None
        if v is None:
            orig.pop(k, None)
        elif isinstance(v, dict):
            if sub is not None and sub.type == "map":
                merged = _merge_map(orig.get(k) if isinstance(orig.get(k), dict) else {}, v, None)
            else:
                merged = _merge_map(orig.get(k) if isinstance(orig.get(k), dict) else {}, v, sub)
            if merged is None:
                orig.pop(k, None)
            else:
                orig[k] = merged
        elif isinstance(v, list):
            orig[k] = _merge_list(orig.get(k) if isinstance(orig.get(k), list) else [], v, sub, orders.get(k))
        else:
            orig[k] = v
    for field, order in orders.items():
        if field not in patch and isinstance(orig.get(field), list):
            sub = schema.child(field) if schema is not None else None
            orig[field] = _reorder(orig[field], order, sub.merge_key if sub else None)
    return orig


def _merge_list(orig: list[Any], patch: list[Any], schema: T | None, order: list[Any] | None) -> list[Any]:
    key = schema.merge_key if schema is not None else None
    strategy = (schema.strategy or "") if schema is not None else ""
    for x in patch:
        if isinstance(x, dict) and "$patch" in x and x["$patch"] not in ("replace", "delete", "merge"):
            raise _bad_type(x["$patch"], x)
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [x for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    if key is None:
        if "merge" in strategy:  # a set of primitives: union, keeping order
            out = list(orig)
            for x in patch:
                if isinstance(x, dict) and x.get("$patch") == "delete":
                    continue
                if x not in out:
                    out.append(x)
            return _reorder(out, order, None)
        return patch
    out = list(orig)
    item_schema = schema.items if schema is not None else None
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"merging an object in json but data type is not map, merge key {key}")
        if item.get("$patch") == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        kv = item[key]
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == kv), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            clean = {k: v for k, v in item.items() if not k.startswith("$")}
            out.append(_merge_map({}, clean, item_schema) if clean else clean)
        else:
            merged = _merge_map(out[idx], item, item_schema)
            if merged is None:
                out.pop(idx)
            else:
                out[idx] = merged
    return _reorder(out, order, key)


def _reorder(items: list[Any], order: list[Any] | None, key: str | None) -> list[Any]:
    if not order:
        return items
    ident = (lambda x: x.get(key) if isinstance(x, dict) else x) if key else (lambda x: x)
    wanted = [ident(o) if key and isinstance(o, dict) else o for o in order]
    rank = {repr(w): i for i, w in enumerate(wanted)}
    placed = sorted((x for x in items if repr(ident(x)) in rank), key=lambda x: rank[repr(ident(x))])
    rest = [x for x in items if repr(ident(x)) not in rank]
    return placed + rest
