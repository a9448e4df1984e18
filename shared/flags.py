"""Flag value parsers shared by every component: Go-style durations and booleans, as upstream
Kubernetes and etcd flags take them (`--node-monitor-grace-period=40s`, `--leader-elect=true`)."""
from __future__ import annotations

import argparse
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(s: str) -> float:
    """15s, 2m, 1m30s, 500ms, 1h, or plain seconds -> seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h)", s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise argparse.ArgumentTypeError(f"invalid duration {s!r}")
    return total


def boolean(s: str) -> bool:
    if s.lower() in ("true", "1", "yes"):
        return True
    if s.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {s!r}")
