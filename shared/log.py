"""Structured logging on stderr for every kubeling process.

One line per record, `key=value` pairs after the message (logfmt, as klog's structured mode and
etcd's zap console encoder print), so `kubeling logs` output can be grepped and parsed alike.
"""
from __future__ import annotations

import logging
import sys
import time

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class LogfmtFormatter(logging.Formatter):
    """Formats `log.info("msg", extra={"k": v})` as `ts level component msg k=v`."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        fields = " ".join(
            f"{k}={_quote(v)}" for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")
        )
        line = f"{ts} {record.levelname.lower():5} {self.component} {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(v: object) -> str:
    s = str(v)
    return f'"{s}"' if (" " in s or not s) else s


def setup(component: str, level: str = "info") -> logging.Logger:
    """Configure the root logger for a component process and return the component's logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pysyncobj and uvicorn are chatty at INFO; their warnings still show.
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(component)
