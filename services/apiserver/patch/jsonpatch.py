"""JSON patch (RFC 6902) with JSON pointers (RFC 6901), bounded as kube-apiserver bounds it.

Semantics follow the RFC where gopkg.in/evanphx/json-patch.v4 (upstream's library) is looser:
array indices are `0` or digits without a leading zero (RFC 6901 section 4), `-` only where a
value is added; every operation needs its members (`path`, `from`, `value`) with the right types;
`test` compares JSON values, so `true` is not `1` and `1.0` is `1`. The limits are upstream's:
at most 10000 operations (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go
maxJSONPatchOperations) and at most 3 MiB added by `copy` operations over the whole patch
(JSONPatchMaxCopyBytes in staging/src/k8s.io/apiserver/pkg/server/config.go, enforced by the
library's AccumulatedCopySizeLimit). Error texts are the library's.

One bound is kubeling's own: a patch is applied on the event loop, and 10000 inserts at the head
of a 200,000-item array move 2e9 array slots (about 2 s). Upstream's library does the same work on
the request's goroutine; here the patch may move at most MAX_SHIFTS slots in all (about 0.1 s).
"""
from __future__ import annotations

import re
from typing import Any

from ..api.bodies import BodyError, clone, encoded_size

MAX_OPERATIONS = 10000
MAX_COPY_BYTES = 3 * 1024 * 1024
MAX_SHIFTS = 100_000_000
_INDEX = re.compile(r"0|[1-9][0-9]*")


class JSONPatchError(ValueError):
    """The patch does not apply (upstream answers 422)."""


class TooManyOperations(JSONPatchError):
    """More than MAX_OPERATIONS (upstream answers 413)."""


def _tokens(path: Any, what: str) -> list[str]:
    if not isinstance(path, str):
        raise JSONPatchError(f"operation, {what} field is not a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise JSONPatchError(f"JSON pointer must be empty or start with '/': {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(token: str, size: int, path: str, adding: bool = False) -> int:
    if adding and token == "-":
        return size
    if not _INDEX.fullmatch(token):
        raise JSONPatchError(f"value was not a proper array index: '{token}'")
    i = int(token)
    if i > size or (i == size and not adding):
        raise JSONPatchError(f"Unable to access invalid index: {i}")
    return i


def _get(doc: Any, toks: list[str], path: str) -> Any:
    cur = doc
    for t in toks:
        if isinstance(cur, dict):
            if t not in cur:
                raise JSONPatchError(f'doc is missing path: "{path}": missing value')
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(t, len(cur), path)]
        else:
            raise JSONPatchError(f'doc is missing path: "{path}": missing value')
    return cur


def _container(doc: Any, toks: list[str], path: str, op: str) -> Any:
    try:
        parent = _get(doc, toks[:-1], path)
    except JSONPatchError:
        raise JSONPatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value') from None
    if not isinstance(parent, (dict, list)):
        raise JSONPatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return parent


class _Budget:
    """Array slots moved so far by inserts and removals."""

    def __init__(self) -> None:
        self.shifts = 0

    def spend(self, n: int) -> None:
        self.shifts += n
        if self.shifts > MAX_SHIFTS:
            raise JSONPatchError(f"the patch moves more than {MAX_SHIFTS} array elements")


def _add(doc: Any, toks: list[str], path: str, value: Any, budget: _Budget) -> Any:
    if not toks:
        return value
    parent = _container(doc, toks, path, "add")
    if isinstance(parent, dict):
        parent[toks[-1]] = value
    else:
        i = _index(toks[-1], len(parent), path, adding=True)
        budget.spend(len(parent) - i)
        parent.insert(i, value)
    return doc


def _remove(doc: Any, toks: list[str], path: str, budget: _Budget) -> Any:
    if not toks:
        raise JSONPatchError("remove operation does not apply: the document root cannot be removed")
    parent = _container(doc, toks, path, "remove")
    if isinstance(parent, dict):
        if toks[-1] not in parent:
            raise JSONPatchError(f'remove operation does not apply: doc is missing path: "{path}": missing value')
        return parent.pop(toks[-1])
    i = _index(toks[-1], len(parent), path)
    budget.spend(len(parent) - i)
    return parent.pop(i)


def _replace(doc: Any, toks: list[str], path: str, value: Any) -> Any:
    if not toks:
        return value
    parent = _container(doc, toks, path, "replace")
    if isinstance(parent, dict):
        if toks[-1] not in parent:
            raise JSONPatchError(f"replace operation does not apply: doc is missing key: {path}: missing value")
        parent[toks[-1]] = value
    else:
        parent[_index(toks[-1], len(parent), path)] = value
    return doc


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: booleans are not numbers, numbers compare by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _member(op: dict[str, Any], name: str) -> Any:
    if name not in op:
        raise JSONPatchError(f"operation, missing {name} field: missing value" if name != "path"
                             else "operation missing path field: missing value")
    return op[name]


def check_operations(ops: Any) -> list[dict[str, Any]]:
    """The patch document's shape (upstream's jsonpatch.DecodePatch, a 400 when it fails) and size."""
    if not isinstance(ops, list):
        raise BodyError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise BodyError("json: cannot unmarshal array into Go value of type map[string]*json.RawMessage")
    if len(ops) > MAX_OPERATIONS:
        raise TooManyOperations(f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(ops)}")
    return ops


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply `ops` to a copy of `doc`. Raises JSONPatchError (422), TooManyOperations (413) or
    BodyError (400, a patch that is not a list of objects or nests too deep)."""
    ops = check_operations(ops)
    doc = clone(doc)
    copied = 0
    budget = _Budget()
    for op in ops:
        kind = _member(op, "op")
        path = _member(op, "path")
        toks = _tokens(path, "path")
        if kind == "add":
            doc = _add(doc, toks, path, clone(_member(op, "value")), budget)
        elif kind == "remove":
            _remove(doc, toks, path, budget)
        elif kind == "replace":
            doc = _replace(doc, toks, path, clone(_member(op, "value")))
        elif kind == "move":
            src = _member(op, "from")
            stoks = _tokens(src, "from")
            if toks[:len(stoks)] == stoks and len(toks) > len(stoks):
                raise JSONPatchError(f"move operation does not apply: from {src} is a prefix of path {path}")
            try:
                value = _get(doc, stoks, src)
            except JSONPatchError:
                raise JSONPatchError(f"move operation does not apply: doc is missing from path: {src}: missing value") from None
            if stoks:
                _remove(doc, stoks, src, budget)
            doc = _add(doc, toks, path, value, budget)
        elif kind == "copy":
            src = _member(op, "from")
            stoks = _tokens(src, "from")
            try:
                value = _get(doc, stoks, src)
            except JSONPatchError:
                raise JSONPatchError(f"copy operation does not apply: doc is missing from path: {src}: missing value") from None
            copied += encoded_size(value)
            if copied > MAX_COPY_BYTES:
                raise JSONPatchError(f"Unable to complete the copy, the accumulated size increase of copy is {copied}, "
                                     f"exceeding the limit {MAX_COPY_BYTES}")
            doc = _add(doc, toks, path, clone(value), budget)
        elif kind == "test":
            value = _member(op, "value")
            try:
                current = _get(doc, toks, path)
            except JSONPatchError:
                raise JSONPatchError(f"test operation does not apply: is missing path: {path}: missing value") from None
            if not json_equal(current, value):
                raise JSONPatchError(f"testing value {path} failed: test failed")
        else:
            raise JSONPatchError(f"Unexpected kind: {kind}")
    return doc
