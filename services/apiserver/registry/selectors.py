"""Label and field selectors, parsed from query strings or LabelSelector objects.

Grammar as upstream `labels.Parse`: comma-separated requirements, each `k=v`, `k==v`, `k!=v`,
`k in (a,b)`, `k notin (a,b)`, `k` (exists) or `!k` (does not exist).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kubeling.shared.strconv import parse_int64, quote

from ..api.errors import bad_request
from ..validation.names import label_value, qualified_name


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
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
        if self.op in ("gt", "lt"):
            # upstream: a label value that is not an int64 never matches
            have, want = parse_int64(v or ""), parse_int64(self.values[0])
            if not has or have is None or want is None:
                return False
            return have > want if self.op == "gt" else have < want
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
            elif r.op in ("gt", "lt"):
                out.append(f"{r.key}{'>' if r.op == 'gt' else '<'}{r.values[0]}")
            elif r.op in ("in", "notin"):
                out.append(f"{r.key} {r.op} ({','.join(r.values)})")
            elif r.op == "exists":
                out.append(r.key)
            else:
                out.append(f"!{r.key}")
        return ",".join(out)


# --- the label selector grammar (upstream staging/src/k8s.io/apimachinery/pkg/labels/selector.go) ---
# Tokens: the lexer splits on whitespace and the special symbols below; `in` and `notin` are
# keywords where an operator may stand and plain identifiers where a value may.
_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),><"
_SYMBOLS = {")": "CLOSE", ",": "COMMA", "!": "NOT", "==": "DEQ", "=": "EQ", ">": "GT", "<": "LT", "!=": "NEQ", "(": "OPEN"}
_KEYWORDS = {"in": "IN", "notin": "NOTIN"}
_OPERATORS = {"IN": "in", "NOTIN": "notin", "EQ": "=", "DEQ": "=", "NEQ": "!=", "GT": "gt", "LT": "lt"}
_BINARY = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[str, str]]:
    """(token, literal) pairs ending with ("END", ""). Like upstream's byte lexer, a NUL byte ends the input."""
    text = text.split("\0", 1)[0]
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            out.append(("END", ""))
            return out
        if text[i] in _SPECIAL:
            # the longest run of special symbols that is still a token: "!=" and "==" over "!" and "="
            j, best = i, None
            while j < n and text[j] in _SPECIAL:
                cand = text[i:j + 1]
                if cand in _SYMBOLS:
                    best = cand
                elif best is not None:
                    break
                j += 1
            lit = best if best is not None else text[i:j]
            out.append((_SYMBOLS.get(lit, "ERROR"), lit))
            i += len(lit)
            continue
        j = i
        while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE:
            j += 1
        lit = text[i:j]
        out.append((_KEYWORDS.get(lit, "ID"), lit))
        i = j


class _Parser:
    """Upstream's recursive descent over the token list; error texts are upstream's."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        return ("ID" if values and tok in ("IN", "NOTIN") else tok), lit

    def consume(self, values: bool = True) -> tuple[str, str]:
        out = self.lookahead(values)
        self.pos += 1
        return out

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok == "END":
                return reqs
            if tok not in ("ID", "NOT"):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except ValueError as e:
                raise ValueError(f"unable to parse requirement: {e}") from None
            tok, lit = self.consume()
            if tok == "END":
                return reqs
            if tok != "COMMA":
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            tok2, lit2 = self.lookahead()
            if tok2 not in ("ID", "NOT"):
                raise ValueError(f"found '{lit2}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        op = ""
        tok, key = self.consume()
        if tok == "NOT":
            op = "!"
            tok, key = self.consume()
        if tok != "ID":
            raise ValueError(f"found '{key}', expected: identifier")
        key_errs = qualified_name(key)
        if key_errs:  # upstream validates with a nil field path, hence "<nil>"
            raise ValueError(f"<nil>: Invalid value: {quote(key)}: {'; '.join(key_errs)}")
        if op == "!" or self.lookahead()[0] in ("END", "COMMA"):
            return Requirement(key, op or "exists")
        tok, lit = self.consume(values=False)
        if tok not in _OPERATORS:
            raise ValueError(f"found '{lit}', expected: {_BINARY}")
        op = _OPERATORS[tok]
        values = self.set_values() if op in ("in", "notin") else self.exact_value()
        return _new_requirement(key, op, sorted(values))

    def set_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != "OPEN":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok == "CLOSE":  # "()" is the set of the empty string
            self.consume()
            return {""}
        if tok not in ("ID", "COMMA"):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        out: set[str] = set()
        while True:
            t, value = self.consume()
            if t == "ID":
                out.add(value)
                t2, lit2 = self.lookahead()
                if t2 == "COMMA":
                    continue
                if t2 != "CLOSE":
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
                break
            if t != "COMMA":
                raise ValueError(f"found '{value}', expected: ',', or identifier")
            if not out:
                out.add("")  # "(," holds the empty value
            t2, _ = self.lookahead()
            if t2 in ("CLOSE", "COMMA"):
                out.add("")  # ",)" and ",," too
                if t2 == "CLOSE":
                    break
        if self.consume()[0] != "CLOSE":
            raise ValueError(f"found '{lit}', expected: ')'")
        return out

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in ("END", "COMMA"):
            return {""}
        tok, lit = self.consume()
        if tok != "ID":
            raise ValueError(f"found '{lit}', expected: identifier")
        return {lit}


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """upstream labels.NewRequirement: Gt/Lt take one int64; every value must be a valid label value."""
    errs: list[str] = []
    if op in ("gt", "lt"):
        errs += [f"values[{i}]: Invalid value: {quote(v)}: for 'Gt', 'Lt' operators, the value must be an integer"
                 for i, v in enumerate(values) if parse_int64(v) is None]
    for i, v in enumerate(values):
        msgs = label_value(v)
        if msgs:
            errs.append(f"values[{i}][{key}]: Invalid value: {quote(v)}: {'; '.join(msgs)}")
    if errs:
        unique = list(dict.fromkeys(errs))
        raise ValueError(unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]")
    return Requirement(key, op, tuple(values))


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the `labelSelector` query parameter; an error is a 400 with upstream's message
    (labels.Parse, reported by the ListOptions conversion as a BadRequest)."""
    if not text:
        return LabelSelector()
    try:
        reqs = _Parser(text).parse()
    except ValueError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(sorted(reqs, key=lambda r: r.key))


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

    def check_supported(self, supported: set[str]) -> None:
        """upstream's field label conversion: a field the kind does not index is a 400."""
        for r in self.reqs:
            if r.field not in supported:
                raise bad_request(f'"{r.field}" is not a known field selector: only "{", ".join(sorted(supported))}"')

    def exact(self, field: str) -> str | None:
        for r in self.reqs:
            if r.field == field and r.op == "=":
                return r.value
        return None


def _split_terms(text: str) -> list[str]:
    """Split on commas that no backslash escapes (upstream fields.splitTerms)."""
    terms, cur, escaped = [], [], False
    for ch in text:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == ",":
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The first `!=`, `==` or `=` splits a term into field, operator and value (fields.splitTerm)."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape(value: str) -> str:
    """upstream fields.UnescapeValue: `\\\\`, `\\,` and `\\=` are the only escapes; a bare `,` or `=` is an error."""
    out, escaped = [], False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str | None, supported: set[str] | None, kind: str, version: str = "v1") -> FieldSelector:
    """Parse `fieldSelector` as upstream fields.ParseSelector does (no trimming: a space is part of
    the field or value); a field the kind does not index (of `supported`, None: syntax only) is a
    400, as upstream."""
    if not text:
        return FieldSelector()
    reqs = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        f, op, v = split
        reqs.append(FieldRequirement(f, "!=" if op == "!=" else "=", _unescape(v)))
    selector = FieldSelector(reqs)
    if supported is not None:
        selector.check_supported(supported)
    return selector


FieldGetter = Callable[[dict[str, Any]], dict[str, str]]


def default_fields(obj: dict[str, Any]) -> dict[str, str]:
    md = obj.get("metadata") or {}
    return {"metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", "")}
