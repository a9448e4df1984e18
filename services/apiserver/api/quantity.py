"""Resource quantities (`100m`, `5Gi`, `1e3`), parsed to exact fractions for quota arithmetic."""
from __future__ import annotations

from fractions import Fraction

from kubeling.shared import quantity

_SUFFIX = quantity.SUFFIXES  # the one table of suffixes (shared/quantity.py)


def parse_quantity(q: object) -> Fraction:
    """shared/quantity.parse, with the validation message the apiserver answers in a Status."""
    try:
        return quantity.parse(q)
    except ValueError:
        raise ValueError("quantities must match the regular expression "
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {str(q).strip()!r}") from None


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
