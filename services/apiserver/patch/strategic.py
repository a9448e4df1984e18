"""Strategic merge patch, driven by the merge keys in kubeling's schemas.

Supports what kubectl and client libraries send: maps merge, `null` deletes, lists with a merge
key merge item by item (`containers` by name, `ports` by containerPort/port, ...), primitive
lists with strategy merge (finalizers) union, and the directives `$patch: replace|delete|merge`,
`$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.
"""
from __future__ import annotations

import copy
from typing import Any

from ..api.schema import T


class PatchError(ValueError):
    pass


def apply_strategic_merge_patch(original: Any, patch: Any, schema: T | None) -> Any:
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object")
    return _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch, schema)


def _merge_map(orig: dict[str, Any], patch: dict[str, Any], schema: T | None) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}")
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(orig.keys()):
            if k not in retain:
                del orig[k]
    orders: dict[str, list[Any]] = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(orig.get(field), list) and isinstance(v, list):
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
            orig[k] = copy.deepcopy(v)
    for field, order in orders.items():
        if field not in patch and isinstance(orig.get(field), list):
            sub = schema.child(field) if schema is not None else None
            orig[field] = _reorder(orig[field], order, sub.merge_key if sub else None)
    return orig


def _merge_list(orig: list[Any], patch: list[Any], schema: T | None, order: list[Any] | None) -> list[Any]:
    key = schema.merge_key if schema is not None else None
    strategy = (schema.strategy or "") if schema is not None else ""
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    if key is None:
        if "merge" in strategy:  # a set of primitives: union, keeping order
            out = list(orig)
            for x in patch:
                if isinstance(x, dict) and x.get("$patch") == "delete":
                    continue
                if x not in out:
                    out.append(copy.deepcopy(x))
            return _reorder(out, order, None)
        return copy.deepcopy(patch)
    out = [copy.deepcopy(x) for x in orig]
    item_schema = schema.items if schema is not None else None
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"merging an object in json but data type is not map, merge key {key}")
        kv = item.get(key)
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
