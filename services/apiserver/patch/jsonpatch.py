"""JSON patch (RFC 6902) with JSON pointers (RFC 6901)."""
from __future__ import annotations

import copy
from typing import Any


class JSONPatchError(ValueError):
    pass


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise JSONPatchError(f"JSON pointer must start with '/': {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    toks = _tokens(path)
    if not toks:
        raise JSONPatchError("cannot operate on the document root")
    cur = doc
    for t in toks[:-1]:
        cur = _child(cur, t, path)
    return cur, toks[-1]


def _child(cur: Any, t: str, path: str) -> Any:
    if isinstance(cur, dict):
        if t not in cur:
            raise JSONPatchError(f"doc is missing path: \"{path}\": missing value")
        return cur[t]
    if isinstance(cur, list):
        try:
            i = int(t)
        except ValueError:
            raise JSONPatchError(f"invalid array index {t!r} in {path}") from None
        if not 0 <= i < len(cur):
            raise JSONPatchError(f"doc is missing path: \"{path}\": missing value")
        return cur[i]
    raise JSONPatchError(f"doc is missing path: \"{path}\": missing value")


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for t in _tokens(path):
        cur = _child(cur, t, path)
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        return value
    parent, last = _parent(doc, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            i = int(last)
            if not 0 <= i <= len(parent):
                raise JSONPatchError(f"add operation does not apply: index {i} out of bounds in {path}")
            parent.insert(i, value)
    else:
        raise JSONPatchError(f"add operation does not apply: doc is missing path: \"{path}\": missing value")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise JSONPatchError(f"remove operation does not apply: doc is missing path: \"{path}\": missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        i = int(last)
        if not 0 <= i < len(parent):
            raise JSONPatchError(f"remove operation does not apply: doc is missing path: \"{path}\": missing value")
        return parent.pop(i)
    raise JSONPatchError(f"remove operation does not apply: doc is missing path: \"{path}\": missing value")


def apply_json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise JSONPatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise JSONPatchError("Unexpected kind: missing \"op\" in an operation")
        kind, path = op["op"], op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if path == "":
                doc = copy.deepcopy(op.get("value"))
                continue
            _get(doc, path)
            parent, last = _parent(doc, path)
            if isinstance(parent, list):
                parent[int(last)] = copy.deepcopy(op.get("value"))
            else:
                parent[last] = copy.deepcopy(op.get("value"))
        elif kind == "move":
            val = _remove(doc, op["from"])
            doc = _add(doc, path, val)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise JSONPatchError(f"testing value {path} failed: test failed")
        else:
            raise JSONPatchError(f"Unexpected kind: {kind}")
    return doc
