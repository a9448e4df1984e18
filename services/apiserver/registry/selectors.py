"""Label and field selectors, parsed from query strings or LabelSelector objects.

Grammar as upstream `labels.Parse`: comma-separated requirements, each `k=v`, `k==v`, `k!=v`,
`k in (a,b)`, `k notin (a,b)`, `k` (exists) or `!k` (does not exist).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ..api.errors import bad_request


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        v = labels.get(self.key)
        if self.op == "=":
            return has and v == self.values[0]
        if self.op == "!=":
            return not has or v != self.values[0]
        if self.op == "in":
            return has and v in self.values
        if self.op == "notin":
            return not has or v not in self.values
        if self.op == "exists":
            return has
        return not has


class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    def __init__(self, reqs: list[Requirement] | None = None) -> None:
        self.reqs = reqs or []

    def empty(self) -> bool:
        return not self.reqs

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.reqs)

    def __str__(self) -> str:
        out = []
        for r in self.reqs:
            if r.op in ("=", "!="):
                out.append(f"{r.key}{r.op}{r.values[0]}")
            elif r.op in ("in", "notin"):
                out.append(f"{r.key} {r.op} ({','.join(r.values)})")
            elif r.op == "exists":
                out.append(r.key)
            else:
                out.append(f"!{r.key}")
        return ",".join(out)


_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the `labelSelector` query parameter; a syntax error is a 400 as upstream."""
    if not text or not text.strip():
        return LabelSelector()
    toks: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        if m.group(1):
            toks.append(m.group(1))
        pos = m.end()
    reqs: list[Requirement] = []
    i = 0

    def err(msg: str) -> Exception:
        return bad_request(f"unable to parse requirement: {msg}")

    while i < len(toks):
        t = toks[i]
        if t == "!":
            if i + 1 >= len(toks):
                raise err("found '', expected: identifier")
            reqs.append(Requirement(toks[i + 1], "!"))
            i += 2
        else:
            key = t
            op = toks[i + 1] if i + 1 < len(toks) else None
            if op is None or op == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            elif op in ("=", "==", "!="):
                val = toks[i + 2] if i + 2 < len(toks) and toks[i + 2] != "," else ""
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (val,)))
                i += 3 if val else 2
            elif op.lower() in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise err(f"found '{toks[i + 2] if i + 2 < len(toks) else ''}', expected: '('")
                j = i + 3
                vals: list[str] = []
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        vals.append(toks[j])
                    j += 1
                if j >= len(toks):
                    raise err("found '', expected: ')'")
                reqs.append(Requirement(key, op.lower(), tuple(vals)))
                i = j + 1
            else:
                raise err(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            if toks[i] != ",":
                raise err(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
    return LabelSelector(reqs)


def selector_from_object(sel: dict[str, Any] | None) -> LabelSelector:
    """A meta/v1 LabelSelector (matchLabels + matchExpressions) as a LabelSelector."""
    if not sel:
        return LabelSelector()
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (sel.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for e in sel.get("matchExpressions") or []:
        reqs.append(Requirement(e.get("key", ""), ops.get(e.get("operator", ""), "in"), tuple(e.get("values") or ())))
    return LabelSelector(reqs)


def selector_from_map(m: dict[str, str] | None) -> LabelSelector:
    return LabelSelector([Requirement(k, "=", (str(v),)) for k, v in (m or {}).items()])


# --- field selectors --------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


class FieldSelector:
    def __init__(self, reqs: list[FieldRequirement] | None = None) -> None:
        self.reqs = reqs or []

    def empty(self) -> bool:
        return not self.reqs

    def matches(self, fields: dict[str, str]) -> bool:
        for r in self.reqs:
            v = fields.get(r.field, "")
            if (v == r.value) != (r.op == "="):
                return False
        return True

    def exact(self, field: str) -> str | None:
        for r in self.reqs:
            if r.field == field and r.op == "=":
                return r.value
        return None


def parse_field_selector(text: str | None, supported: set[str], kind: str, version: str = "v1") -> FieldSelector:
    """Parse `fieldSelector`; a field the kind does not index is a 400, as upstream."""
    if not text or not text.strip():
        return FieldSelector()
    reqs = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^!=]+)(!=|==|=)(.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        f, op, v = m.group(1).strip(), m.group(2), m.group(3).strip()
        if f not in supported:
            raise bad_request(f'"{f}" is not a known field selector: only "{", ".join(sorted(supported))}"')
        reqs.append(FieldRequirement(f, "!=" if op == "!=" else "=", v))
    return FieldSelector(reqs)


FieldGetter = Callable[[dict[str, Any]], dict[str, str]]


def default_fields(obj: dict[str, Any]) -> dict[str, str]:
    md = obj.get("metadata") or {}
    return {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", "")}
