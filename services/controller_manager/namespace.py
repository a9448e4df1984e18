"""Namespace controller: empty a Terminating namespace, then finalize it.

`kubectl delete namespace x` only marks the namespace (phase Terminating, deletionTimestamp)
because of its `kubernetes` finalizer. This controller discovers every namespaced resource the
apiserver serves (so it also covers kinds added after it was written), deletes every object
of each in the namespace, and once nothing is left removes the finalizer through the
`finalize` subresource, letting the apiserver drop the namespace. Pods in their grace period
keep it Terminating until their kubelets finish them, as upstream.
"""
from __future__ import annotations

import copy
from typing import Any

from kubeling.shared.client import ApiError, Resource
from kubeling.shared.informer import Handlers

from .controller import Context, Controller
from .podutil import condition, now_rfc3339
from .resources import NAMESPACES

Obj = dict[str, Any]
FINALIZER = "kubernetes"
RECHECK = 1.0  # seconds between passes while content remains


class NamespaceController(Controller):
    name = "namespace"
    event_source = "namespace-controller"
    default_workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.namespaces = self.informer(NAMESPACES)
        self.namespaces.add_handlers(Handlers(self._changed, lambda old, new: self._changed(new)))
        self._resources: list[Resource] | None = None

    def _changed(self, ns: Obj) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.enqueue(ns)

    async def discover(self) -> list[Resource]:
        """Namespaced resources that can be listed and deleted, from /api and /apis."""
        out: list[Resource] = []
        versions = ["v1"]
        groups = await self.client.request("GET", "/apis")
        for g in groups.get("groups") or []:
            pv = (g.get("preferredVersion") or {}).get("groupVersion")
            if pv:
                versions.append(pv)
        for gv in versions:
            path = "/api/v1" if gv == "v1" else f"/apis/{gv}"
            try:
                doc = await self.client.request("GET", path)
            except ApiError:
                continue
            for r in doc.get("resources") or []:
                verbs = set(r.get("verbs") or [])
                if "/" in r.get("name", "") or not r.get("namespaced") or not {"list", "delete"} <= verbs:
                    continue
                out.append(Resource(gv, r["name"], True, r.get("kind", "")))
        return out

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        if self._resources is None:
            self._resources = await self.discover()
        remaining: dict[str, int] = {}
        for res in self._resources:
            try:
                items = (await self.client.list(res, key)).get("items") or []
            except ApiError as e:
                if e.code in (404, 405):
                    continue
                raise
            for obj in items:
                md = obj.get("metadata") or {}
                remaining[res.plural] = remaining.get(res.plural, 0) + 1
                if md.get("deletionTimestamp"):
                    continue
                try:
                    await self.client.request("DELETE", res.path(key, md["name"]),
                                              body={"apiVersion": "v1", "kind": "DeleteOptions",
                                                    "propagationPolicy": "Background"})
                except ApiError as e:
                    if e.code not in (404, 409):
                        raise
        if remaining:
            await self._set_condition(ns, remaining)
            self.queue.add_after(key, RECHECK)
            return
        new = copy.deepcopy(ns)
        new.setdefault("spec", {})["finalizers"] = [f for f in new["spec"].get("finalizers") or [] if f != FINALIZER]
        try:
            await self.client.update(NAMESPACES, new, "finalize")
        except ApiError as e:
            if e.code != 404:
                raise
        self.log.info("namespace emptied and finalized", extra={"namespace": key})

    async def _set_condition(self, ns: Obj, remaining: dict[str, int]) -> None:
        """NamespaceContentRemaining, so `kubectl describe ns` says what it is waiting for."""
        msg = "Some resources are remaining: " + ", ".join(
            f"{k} has {v} resource instances" for k, v in sorted(remaining.items()))
        cur = condition(ns, "NamespaceContentRemaining")
        if cur and cur.get("message") == msg:
            return
        conds = [c for c in (ns.get("status") or {}).get("conditions") or [] if c.get("type") != "NamespaceContentRemaining"]
        conds.append({"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain",
                      "message": msg, "lastTransitionTime": now_rfc3339()})
        try:
            await self.client.patch(NAMESPACES, ns["metadata"]["name"], {"status": {"conditions": conds}},
                                    subresource="status")
        except ApiError:
            pass  # informational only
