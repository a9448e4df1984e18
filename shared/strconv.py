"""Go's number and duration parsing, and its quoting, as upstream's messages show them.

Kubernetes and etcd are written in Go, and many of their error messages carry Go's own texts:
`strconv.ParseInt: parsing "x": invalid syntax`, `time: unknown unit "d" in duration "1d"`, and
values quoted by `%q`. Components that answer with upstream's messages take these from here, so
each rule is written once: strconv.ParseInt's range, strconv.Quote's escapes, time.ParseDuration's
grammar.
"""
from __future__ import annotations

import re

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_INT = re.compile(r"[+-]?[0-9]+")
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64) (and Atoi on 64-bit): an optional sign and ASCII digits,
    within int64; None where Go returns an error."""
    if not _INT.fullmatch(text):
        return None
    n = int(text)
    return n if INT64_MIN <= n <= INT64_MAX else None


def int64_error(text: str) -> str:
    """Why strconv refuses `text` ("invalid syntax" or "value out of range")."""
    return "value out of range" if _INT.fullmatch(text) else "invalid syntax"


def quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote)."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_COMPONENT = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


def parse_duration(text: str) -> float:
    """time.ParseDuration, in seconds; ValueError with Go's message."""
    quoted = quote(text)
    s = text[1:] if text[:1] in ("+", "-") else text
    sign = -1.0 if text.startswith("-") else 1.0
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"time: invalid duration {quoted}")
    total, pos = 0.0, 0
    while pos < len(s):
        m = _COMPONENT.match(s, pos)
        number, unit = m.group(1), m.group(2)
        if number in ("", "."):
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {quote(unit)} in duration {quoted}")
        total += float(number) * _UNITS[unit]
        pos = m.end()
    if total * 1e9 > INT64_MAX:
        raise ValueError(f"time: invalid duration {quoted}")
    return sign * total
