"""One entry point for every patch type: the patch applied, its result bounded, errors as Statuses.

Status codes are upstream's (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go):
a patch document that does not decode is a 400, more than 10000 JSON patch operations a 413, a
JSON patch that does not apply a 422 with the generic message, a malformed strategic merge
directive a 400 and any other strategic merge failure a 422. The patched object may be no larger,
encoded, than a request body (3 MiB): kube-apiserver's bound on what a write may decode and what
JSON patch copies may add (MaxRequestBodyBytes and JSONPatchMaxCopyBytes in
staging/src/k8s.io/apiserver/pkg/server/config.go), and no deeper than bodies.MAX_DEPTH.
"""
from __future__ import annotations

from typing import Any

from ..api import errors
from ..api.bodies import BodyError, encoded_size
from ..api.schema import T
from .jsonpatch import JSONPatchError, TooManyOperations, apply_json_patch
from .merge import apply_merge_patch
from .strategic import BadPatch, PatchError, apply_strategic_merge_patch

MAX_PATCHED_BYTES = 3 * 1024 * 1024


def apply_patch(ptype: str, current: Any, patch: Any, schema: T | None) -> Any:
    """Apply a decoded patch of `ptype` ("json", "merge", "strategic" or "apply") to `current`.

    Raises errors.StatusError only; neither `current` nor `patch` is changed.
    """
    try:
        if ptype == "json":
            out = apply_json_patch(current, patch)
        elif ptype == "merge":
            out = apply_merge_patch(current, patch)
        else:
            out = apply_strategic_merge_patch(current, patch, schema)
        size = encoded_size(out)
    except TooManyOperations as e:
        raise errors.too_large(f"Request entity too large: {e}") from None
    except JSONPatchError:
        raise errors.patch_rejected() from None
    except BadPatch as e:
        raise errors.bad_request(str(e)) from None
    except PatchError as e:
        raise errors.invalid_patch(str(e)) from None
    except BodyError as e:
        raise errors.bad_request(str(e)) from None
    if size > MAX_PATCHED_BYTES:
        raise errors.too_large(f"Request entity too large: the patched object is {size} bytes, limit is {MAX_PATCHED_BYTES}")
    return out
