"""JSON merge patch (RFC 7386): maps merge, null deletes, everything else (lists too) replaces.

The result is never larger than the target and the patch together, nor deeper than either.
"""
from __future__ import annotations

from typing import Any

from ..api.bodies import clone


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Merge `patch` into a copy of `target`; neither input is changed."""
    return _merge(clone(target), clone(patch))


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = _merge(result.get(k), v)
    return result
