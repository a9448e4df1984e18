"""Human-readable durations exactly as upstream `duration.HumanDuration` (kubectl prints the server's AGE cell)."""
from __future__ import annotations

import datetime as _dt

from ..registry.objects import now, parse_time


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{(s % 3600) // 60}m" if (s % 3600) // 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return f"{h // 24 // 365}y{dy}d" if dy else f"{h // 24 // 365}y"
    return f"{h // 24 // 365}y"


def age(ts: str | None, ref: _dt.datetime | None = None) -> str:
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration(((ref or now()) - t).total_seconds())
