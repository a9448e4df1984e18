"""Garbage collector: ownerReferences cascade (background, foreground, orphan).

A graph of owner UID -> dependents is kept from informers on the kinds that carry
ownerReferences in practice. Work items are `plural|namespace/name`:

- a dependent whose owners are all gone (checked with a live GET, never only the cache, so a
  just-created owner is not mistaken for a missing one) is deleted in the background; one with
  some owners left just loses the dangling references;
- an owner being deleted with the `orphan` finalizer (propagationPolicy=Orphan) has its
  references removed from every dependent, then the finalizer;
- an owner with `foregroundDeletion` has its dependents deleted (themselves in foreground),
  and loses the finalizer once none is left, so the apiserver removes it last.
"""
from __future__ import annotations

from typing import Any

from kubeling.shared.client import ApiError, Resource
from kubeling.shared.informer import Handlers

from .controller import Context, Controller
from .resources import (
    BY_KIND,
    CONFIGMAPS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTSLICES,
    JOBS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SECRETS,
    SERVICES,
    STATEFULSETS,
)

Obj = dict[str, Any]

MONITORED = (PODS, REPLICASETS, DEPLOYMENTS, REPLICATIONCONTROLLERS, DAEMONSETS, STATEFULSETS, JOBS, CRONJOBS,
             ENDPOINTSLICES, SERVICES, CONFIGMAPS, SECRETS)
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


def item(res: Resource, obj: Obj) -> str:
    md = obj.get("metadata") or {}
    return f"{res.plural}|{md.get('namespace', '')}/{md.get('name', '')}"


class GarbageCollector(Controller):
    name = "garbagecollector"
    event_source = "garbage-collector-controller"
    default_workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.by_plural = {r.plural: r for r in MONITORED}
        self.uids: dict[str, str] = {}  # uid -> item
        self.dependents: dict[str, set[str]] = {}  # owner uid -> items
        self.owners_of: dict[str, set[str]] = {}  # item -> owner uids
        for res in MONITORED:
            inf = self.informer(res)
            inf.add_handlers(Handlers(lambda o, r=res: self._upsert(r, o),
                                      lambda old, new, r=res: self._upsert(r, new, old),
                                      lambda o, r=res: self._deleted(r, o)))

    # -- the graph -----------------------------------------------------------------------------

    def _upsert(self, res: Resource, obj: Obj, old: Obj | None = None) -> None:
        md = obj.get("metadata") or {}
        it = item(res, obj)
        if md.get("uid"):
            self.uids[md["uid"]] = it
        owners = {r.get("uid") for r in md.get("ownerReferences") or [] if r.get("uid")}
        for u in self.owners_of.get(it, set()) - owners:
            self.dependents.get(u, set()).discard(it)
        for u in owners:
            self.dependents.setdefault(u, set()).add(it)
        self.owners_of[it] = owners
        fins = md.get("finalizers") or []
        if md.get("deletionTimestamp") and (ORPHAN in fins or FOREGROUND in fins):
            self.queue.add(it)
        if owners and (old is None or (old.get("metadata") or {}).get("ownerReferences") != md.get("ownerReferences")):
            self.queue.add(it)

    def _deleted(self, res: Resource, obj: Obj) -> None:
        md = obj.get("metadata") or {}
        it = item(res, obj)
        uid = md.get("uid", "")
        if self.uids.get(uid) == it:
            del self.uids[uid]
        for u in self.owners_of.pop(it, set()):
            deps = self.dependents.get(u)
            if deps is not None:
                deps.discard(it)
            owner_item = self.uids.get(u)
            if owner_item:
                self.queue.add(owner_item)  # a foreground owner may be waiting for exactly this
        for dep in self.dependents.get(uid, set()):
            self.queue.add(dep)

    def _get(self, it: str) -> tuple[Resource, Obj] | None:
        plural, _, key = it.partition("|")
        res = self.by_plural[plural]
        ns, _, name = key.partition("/")
        obj = self.informer(res).get(f"{ns}/{name}" if ns else name)
        return (res, obj) if obj is not None else None

    # -- sync ----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        got = self._get(key)
        if got is None:
            return
        res, obj = got
        md = obj["metadata"]
        fins = md.get("finalizers") or []
        if md.get("deletionTimestamp") and ORPHAN in fins:
            await self._orphan_dependents(res, obj)
            return
        if md.get("deletionTimestamp") and FOREGROUND in fins:
            await self._delete_dependents_first(res, obj)
            return
        refs = md.get("ownerReferences") or []
        if not refs:
            return
        solid, waiting, dangling = [], [], []
        for ref in refs:
            state = await self._owner_state(md.get("namespace"), ref)
            {"solid": solid, "waiting": waiting, "dangling": dangling}[state].append(ref)
        if not dangling and not waiting:
            return
        if solid:
            keep = [r for r in refs if r in solid]
            await self._patch_refs(res, obj, keep)
            return
        policy = "Foreground" if waiting and any(r.get("blockOwnerDeletion") for r in waiting) else "Background"
        if md.get("deletionTimestamp"):
            return
        await self._delete(res, obj, policy)
        self.log.info("deleted dependent of a removed owner", extra={"object": key, "policy": policy})

    async def _owner_state(self, namespace: str | None, ref: Obj) -> str:
        """solid (exists), waiting (exists, deleting in foreground) or dangling (gone)."""
        cached = self.uids.get(ref.get("uid", ""))
        if cached is not None:
            got = self._get(cached)
            if got is not None:  # in the cache with this uid: it exists (a deletion would be queued to us)
                omd = got[1]["metadata"]
                if omd.get("deletionTimestamp") and FOREGROUND in (omd.get("finalizers") or []):
                    return "waiting"
                return "solid"
        res = BY_KIND.get((ref.get("apiVersion", ""), ref.get("kind", "")))
        if res is None:
            return "solid"  # a kind we cannot look up: never delete on a guess
        try:
            owner = await self.client.get(res, ref.get("name", ""), namespace if res.namespaced else None)
        except ApiError as e:
            if e.code == 404:
                return "dangling"
            raise
        omd = owner.get("metadata") or {}
        if omd.get("uid") != ref.get("uid"):
            return "dangling"  # a new object under the old name is not the owner
        if omd.get("deletionTimestamp") and FOREGROUND in (omd.get("finalizers") or []):
            return "waiting"
        return "solid"

    async def _orphan_dependents(self, res: Resource, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for dep in list(self.dependents.get(uid, set())):
            got = self._get(dep)
            if got is None:
                continue
            dres, dobj = got
            await self._patch_refs(dres, dobj, [r for r in dobj["metadata"].get("ownerReferences") or []
                                                if r.get("uid") != uid])
        await self._remove_finalizer(res, owner, ORPHAN)

    async def _delete_dependents_first(self, res: Resource, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        deps = [g for g in (self._get(d) for d in list(self.dependents.get(uid, set()))) if g is not None]
        blocking = [(r, o) for r, o in deps if any(ref.get("uid") == uid and ref.get("blockOwnerDeletion")
                                                  for ref in o["metadata"].get("ownerReferences") or [])]
        for dres, dobj in deps:
            if not dobj["metadata"].get("deletionTimestamp"):
                await self._delete(dres, dobj, "Foreground")
        if blocking:
            return  # their deletion events bring us back
        await self._remove_finalizer(res, owner, FOREGROUND)

    async def _delete(self, res: Resource, obj: Obj, policy: str) -> None:
        md = obj["metadata"]
        try:
            await self.client.request("DELETE", res.path(md.get("namespace"), md["name"]),
                                      body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": policy,
                                            "preconditions": {"uid": md.get("uid")}})
        except ApiError as e:
            if e.code not in (404, 409):
                raise

    async def _patch_refs(self, res: Resource, obj: Obj, refs: list[Obj]) -> None:
        md = obj["metadata"]
        try:
            await self.client.patch(res, md["name"], {"metadata": {"ownerReferences": refs or None,
                                                                   "resourceVersion": md.get("resourceVersion")}},
                                    md.get("namespace"))
        except ApiError as e:
            if e.code != 404:
                raise  # 409: changed meanwhile; retried from the fresh cache

    async def _remove_finalizer(self, res: Resource, obj: Obj, finalizer: str) -> None:
        md = obj["metadata"]
        fins = [f for f in md.get("finalizers") or [] if f != finalizer]
        try:
            await self.client.patch(res, md["name"], {"metadata": {"finalizers": fins or None,
                                                                   "resourceVersion": md.get("resourceVersion")}},
                                    md.get("namespace"))
        except ApiError as e:
            if e.code != 404:
                raise
