"""Resource quantities (`100m`, `5Gi`, `1e3`) as the scheduler and kubelet count them.

Components compare requests against allocatable in integer units, as upstream's framework does:
CPU in millicores (`MilliValue`), everything else in whole units (`Value`, rounded up).
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

_SUFFIX: dict[str, Fraction] = {
    "": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18), "Ki": Fraction(2**10), "Mi": Fraction(2**20),
    "Gi": Fraction(2**30), "Ti": Fraction(2**40), "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
SUFFIXES = _SUFFIX  # for formatters elsewhere (the apiserver's canonical quantities)
_RE = re.compile(r"^([+-]?[0-9]*\.?[0-9]+|[+-]?[0-9]+\.)(([eE][-+]?[0-9]+)|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse(q: object) -> Fraction:
    """The exact value of a quantity; ValueError for anything upstream would reject."""
    if isinstance(q, bool):
        raise ValueError(f"invalid quantity {q!r}")
    if isinstance(q, (int, float)):
        return Fraction(str(q))
    s = str(q).strip()
    m = _RE.match(s)
    if not m:
        raise ValueError(f"invalid quantity {s!r}")
    num = Fraction(m.group(1))
    suf = m.group(2) or ""
    if suf[:1] in ("e", "E"):
        return num * Fraction(10) ** int(suf[1:])
    return num * _SUFFIX[suf]


def milli_value(q: object) -> int:
    """Millicores, rounded up (Quantity.MilliValue)."""
    return math.ceil(parse(q) * 1000)


def value(q: object) -> int:
    """Whole units, rounded up (Quantity.Value): bytes for memory, a count for pods."""
    return math.ceil(parse(q))


def format_bytes(n: int) -> str:
    """A byte count in the largest exact binary suffix (`8Gi`), as the kubelet reports capacity."""
    for suf in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIX[suf])
        if n and n % unit == 0:
            return f"{n // unit}{suf}"
    return str(n)


def format_milli(m: int) -> str:
    """Millicores as upstream prints them: whole cores plain (`4`), else `250m`."""
    return str(m // 1000) if m % 1000 == 0 else f"{m}m"
