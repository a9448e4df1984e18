"""ReplicaSet controller: keep `spec.replicas` active pods from the template, report status.

ReplicationControllers are the same machine with an equality-based selector and a different
resource, so `ReplicationManager` below reuses it (as upstream's replication package does).
"""
from __future__ import annotations

import asyncio
from typing import Any

from kubeling.shared.client import ApiError, Resource
from kubeling.shared.informer import Handlers
from kubeling.shared.selectors import match_label_selector, match_labels

from .controller import Context, Controller, key_of, split_key
from .expectations import Expectations
from .podutil import (
    controller_ref,
    deletion_rank,
    is_active,
    is_available,
    is_ready,
    is_terminating,
    pod_from_template,
)
from .refmanager import claim
from .resources import PODS, REPLICASETS, REPLICATIONCONTROLLERS

Obj = dict[str, Any]

BURST_REPLICAS = 500  # at most this many creates or deletes per sync, as upstream


class ReplicaSetController(Controller):
    name = "replicaset"
    event_source = "replicaset-controller"
    default_workers = 5
    resource: Resource = REPLICASETS

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.owners = self.informer(self.resource)
        self.pods = self.informer(PODS)
        self.owners.add_handlers(Handlers(self.enqueue, lambda old, new: self._owner_updated(old, new),
                                          self._owner_deleted))
        self.pods.add_handlers(Handlers(self._pod_added, self._pod_updated, self._pod_deleted))

    # -- selectors (the one place ReplicaSets and ReplicationControllers differ) -------------------

    def selects(self, owner: Obj, labels: dict[str, str] | None) -> bool:
        sel = (owner.get("spec") or {}).get("selector")
        if not sel:
            return False  # an empty selector selects nothing for a controller
        return match_label_selector(sel, labels)

    # -- event handlers ----------------------------------------------------------------------------

    def _owner_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)

    def _owner_deleted(self, obj: Obj) -> None:
        self.expectations.forget(key_of(obj))
        self.enqueue(obj)

    def _resolve(self, pod: Obj, ref: Obj | None) -> Obj | None:
        if not ref or ref.get("kind") != self.resource.kind:
            return None
        owner = self.owners.get(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return owner

    def _orphan_owners(self, pod: Obj) -> list[Obj]:
        ns = pod["metadata"].get("namespace")
        labels = pod["metadata"].get("labels") or {}
        return [o for o in self.owners.list() if o["metadata"].get("namespace") == ns and self.selects(o, labels)]

    def _pod_added(self, pod: Obj) -> None:
        if is_terminating(pod):
            self._pod_deleted(pod)
            return
        owner = self._resolve(pod, controller_ref(pod))
        if owner is not None:
            self.expectations.creation_observed(key_of(owner))
            self.enqueue(owner)
            return
        if controller_ref(pod) is None:
            for o in self._orphan_owners(pod):
                self.enqueue(o)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        owner = self._resolve(new, controller_ref(new))
        if is_terminating(new) and not is_terminating(old) and owner is not None:
            # a graceful delete started: count it as observed now, not when the kubelet finishes
            self.expectations.deletion_observed(key_of(owner), key_of(new))
        old_owner = self._resolve(old, controller_ref(old))
        if old_owner is not None and (owner is None or old_owner["metadata"]["uid"] != owner["metadata"]["uid"]):
            self.enqueue(old_owner)
        if owner is not None:
            self.enqueue(owner)
            mrs = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if mrs and not is_ready(old) and is_ready(new):
                self.queue.add_after(key_of(owner), mrs + 1)  # re-check availability once it is due
            return
        if controller_ref(new) is None:
            for o in self._orphan_owners(new):
                self.enqueue(o)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._resolve(pod, controller_ref(pod))
        if owner is not None:
            self.expectations.deletion_observed(key_of(owner), key_of(pod))
            self.enqueue(owner)

    # -- sync ------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        ns, _ = split_key(key)
        uid = owner["metadata"]["uid"]
        candidates = [p for p in self.pods.list() if p["metadata"].get("namespace") == ns and
                      (is_active(p) or (controller_ref(p) or {}).get("uid") == uid)]
        owned = await claim(self.client, owner, PODS, candidates, lambda p: self.selects(owner, p["metadata"].get("labels")))
        active = [p for p in owned if is_active(p)]
        err: Exception | None = None
        if self.expectations.satisfied(key) and not is_terminating(owner):
            try:
                await self.manage_replicas(key, owner, active)
            except ApiError as e:
                err = e
        await self.update_status(owner, owned, active)
        if err is not None:
            raise err

    async def manage_replicas(self, key: str, owner: Obj, active: list[Obj]) -> None:
        spec = owner.get("spec") or {}
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        diff = len(active) - want
        ns = owner["metadata"]["namespace"]
        if diff < 0:
            n = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, n)
            await self._slow_start(key, n, lambda: self._create_pod(key, owner, ns))
        elif diff > 0:
            victims = sorted(active, key=deletion_rank)[:min(diff, BURST_REPLICAS)]
            self.expectations.expect_deletions(key, [key_of(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(key, owner, p) for p in victims), return_exceptions=True)
            errs = [r for r in results if isinstance(r, Exception)]
            if errs:
                raise errs[0]

    async def _slow_start(self, key: str, n: int, create) -> None:
        """Create in doubling batches (1, 2, 4, ...); stop at the first failing batch (slowStartBatch).

        A quota or admission failure then costs one failed request, not `n` of them; the creates
        never attempted are taken off the expectations so the next sync may try again.
        """
        attempted, batch = 0, 1
        while attempted < n:
            size = min(batch, n - attempted)
            results = await asyncio.gather(*(create() for _ in range(size)), return_exceptions=True)
            attempted += size
            errs = [r for r in results if isinstance(r, Exception)]
            if errs:
                for _ in range(n - attempted):
                    self.expectations.creation_observed(key)
                raise errs[0]
            batch *= 2

    def pod_labels(self, owner: Obj) -> dict[str, str] | None:
        return None

    async def _create_pod(self, key: str, owner: Obj, ns: str) -> None:
        template = (owner.get("spec") or {}).get("template") or {}
        pod = pod_from_template(template, owner, ns, self.pod_labels(owner))
        try:
            created = await self.client.create(PODS, pod, ns)
        except Exception as e:
            self.expectations.creation_observed(key)
            if isinstance(e, ApiError):
                self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {e.status.get('message') or e}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod(self, key: str, owner: Obj, pod: Obj) -> None:
        md = pod["metadata"]
        try:
            await self.client.delete(PODS, md["name"], md.get("namespace"), uid=md.get("uid"))
        except Exception as e:
            # Whatever failed (an error answer, or no answer at all), no deletion event will come
            # for this pod: stop expecting one, or the ReplicaSet waits out the expectations'
            # 5-minute timeout before it deletes anything again (upstream lowers them on any error).
            self.expectations.deletion_observed(key, key_of(pod))
            if isinstance(e, ApiError) and e.code in (404, 409):
                return
            self.recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {e}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {md['name']}")

    async def update_status(self, owner: Obj, owned: list[Obj], active: list[Obj]) -> None:
        spec = owner.get("spec") or {}
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        mrs = int(spec.get("minReadySeconds") or 0)
        old = owner.get("status") or {}
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(1 for p in active if match_labels(tlabels, p["metadata"].get("labels"))),
            "readyReplicas": sum(1 for p in active if is_ready(p)),
            "availableReplicas": sum(1 for p in active if is_available(p, mrs)),
            "observedGeneration": owner["metadata"].get("generation", 1),
        }
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if all(old.get(k, 0) == v for k, v in status.items() if k != "conditions"):
            return
        md = owner["metadata"]
        try:
            await self.client.patch(self.resource, md["name"], {"status": status}, md["namespace"], subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise
        if mrs and status["readyReplicas"] != status["availableReplicas"]:
            self.queue.add_after(key_of(owner), mrs)


class ReplicationManager(ReplicaSetController):
    """ReplicationControllers: equality selectors; an unset selector defaults to the template's labels."""
    name = "replicationcontroller"
    event_source = "replication-controller"
    resource = REPLICATIONCONTROLLERS

    def selects(self, owner: Obj, labels: dict[str, str] | None) -> bool:
        spec = owner.get("spec") or {}
        sel = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        if not sel:
            return False
        return match_labels(sel, labels)
