"""Adoption and release of dependents (upstream's ControllerRefManager).

A controller owns the objects whose controller ownerReference names its UID. Orphans whose
labels match its selector are adopted (the ownerReference is added); owned objects whose
labels no longer match are released (it is removed). Both are patches, so the apiserver's
view, not our cache, is what other controllers see next.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeling.shared.client import ApiError, Client, Resource

from .podutil import controller_ref, is_terminating, owner_ref_for

Obj = dict[str, Any]


async def claim(client: Client, owner: Obj, res: Resource, candidates: list[Obj],
                matches: Callable[[Obj], bool]) -> list[Obj]:
    """The objects among `candidates` that `owner` controls after adopting and releasing."""
    uid = owner["metadata"]["uid"]
    owner_deleting = is_terminating(owner)
    out: list[Obj] = []
    for obj in candidates:
        ref = controller_ref(obj)
        if ref is not None:
            if ref.get("uid") != uid:
                continue  # somebody else's
            if matches(obj) or owner_deleting:
                out.append(obj)
                continue
            if await _patch_refs(client, res, obj, [r for r in obj["metadata"].get("ownerReferences") or []
                                                  if r.get("uid") != uid]):
                continue
            out.append(obj)  # release failed (it changed under us): still ours for this round
            continue
        if owner_deleting or is_terminating(obj) or not matches(obj):
            continue
        refs = list(obj["metadata"].get("ownerReferences") or []) + [owner_ref_for(owner)]
        if await _patch_refs(client, res, obj, refs):
            adopted = dict(obj)
            adopted["metadata"] = {**obj["metadata"], "ownerReferences": refs}
            out.append(adopted)
    return out


async def _patch_refs(client: Client, res: Resource, obj: Obj, refs: list[Obj]) -> bool:
    """Replace the ownerReferences, guarded by resourceVersion and uid so a stale read cannot win."""
    md = obj["metadata"]
    patch = {"metadata": {"ownerReferences": refs, "resourceVersion": md.get("resourceVersion"), "uid": md.get("uid")}}
    try:
        await client.patch(res, md["name"], patch, md.get("namespace"))
        return True
    except ApiError as e:
        if e.code in (404, 409, 422):
            return False
        raise
