"""Flag value parsers shared by every component: Go-style durations and booleans, as upstream
Kubernetes and etcd flags take them (`--node-monitor-grace-period=40s`, `--leader-elect=true`)."""
from __future__ import annotations

import argparse
import re

from . import strconv


def duration(s: str) -> float:
    """A flag's duration: Go's time.ParseDuration (15s, 2m, 1m30s, 500ms, 1h), or plain seconds;
    never negative."""
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    try:
        seconds = strconv.parse_duration(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"invalid duration {s!r}: {e}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"invalid duration {s!r}: may not be negative")
    return seconds


def boolean(s: str) -> bool:
    if s.lower() in ("true", "1", "yes"):
        return True
    if s.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {s!r}")
