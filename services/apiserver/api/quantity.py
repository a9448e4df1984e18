"""Resource quantities (`100m`, `5Gi`, `1e3`), parsed to exact fractions for quota arithmetic."""
from __future__ import annotations

import re
from fractions import Fraction

_SUFFIX = {"": 1, "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "k": 10**3, "M": 10**6,
           "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
           "Pi": 2**50, "Ei": 2**60}
_RE = re.compile(r"^([+-]?[0-9]*\.?[0-9]+|[+-]?[0-9]+\.)(([eE][-+]?[0-9]+)|n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse_quantity(q: object) -> Fraction:
    if isinstance(q, bool):
        raise ValueError("quantities must match the regular expression")
    if isinstance(q, (int, float)):
        return Fraction(str(q))
    s = str(q).strip()
    m = _RE.match(s)
    if not m:
        raise ValueError(f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {s!r}")
    num = Fraction(m.group(1))
    suf = m.group(2) or ""
    if suf[:1] in ("e", "E"):
        return num * Fraction(10) ** int(suf[1:])
    return num * _SUFFIX[suf]


def format_quantity(v: Fraction, like: str = "") -> str:
    """A canonical string: integers plain, fractions of cores in millis, memory with binary suffixes when exact."""
    if v.denominator == 1:
        n = v.numerator
        for suf in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            if like.endswith(suf) and n and n % _SUFFIX[suf] == 0:
                return f"{n // _SUFFIX[suf]}{suf}"
        return str(n)
    milli = v * 1000
    if milli.denominator == 1:
        return f"{milli.numerator}m"
    return str(float(v))
