"""Small helpers on plain-dict API objects: timestamps, uids, names, encoding."""
from __future__ import annotations

import datetime as _dt
import random
import uuid
from typing import Any

import orjson

_GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's utilrand alphabet: no vowels, no 0/1/3


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def rfc3339(t: _dt.datetime | None = None) -> str:
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> _dt.datetime | None:
    if not s:
        return None
    try:
        return _dt.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return None


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    if len(prefix) > 58:
        prefix = prefix[:58]
    return prefix + "".join(random.choice(_GEN_ALPHABET) for _ in range(5))


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        md = obj["metadata"] = {}
    return md


def encode(obj: dict[str, Any]) -> bytes:
    """Stored form: JSON without resourceVersion (the store's mod_revision is the version)."""
    md = dict(obj.get("metadata") or {})
    md.pop("resourceVersion", None)
    md.pop("selfLink", None)
    return orjson.dumps({**obj, "metadata": md})


def decode(value: bytes, mod_revision: int) -> dict[str, Any]:
    obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(mod_revision)
    return obj


def strip_rv(obj: dict[str, Any]) -> dict[str, Any]:
    md = dict(obj.get("metadata") or {})
    md.pop("resourceVersion", None)
    md.pop("managedFields", None)
    return {**obj, "metadata": md}
