"""StatefulSet controller: pods with stable ordinal names, created and removed in order.

Pod `<set>-<i>` for i in 0..replicas-1, with hostname `<set>-<i>` and subdomain
`spec.serviceName`. OrderedReady (the default) creates pod i+1 only once pods 0..i are
Running and Ready, and scales down from the highest ordinal, one pod at a time; Parallel does
both at once. RollingUpdate replaces pods whose revision differs, from the highest ordinal
down to `partition`, one at a time, each only once the others are ready. A pod is recreated
under its name only after the old one has left the store. The revision is the
`controller-revision-hash` label, `<set>-<hash>` in status (kubeling keeps no
ControllerRevision objects, and volumeClaimTemplates get no PersistentVolumeClaims).
"""
from __future__ import annotations

import copy
import re
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers
from kubeling.shared.selectors import match_label_selector

from .controller import Context, Controller, split_key
from .deploymentutil import replicas_of, template_hash
from .podutil import (
    controller_ref,
    is_available,
    is_ready,
    is_terminating,
    pod_from_template,
)
from .refmanager import claim
from .resources import PODS, STATEFULSETS

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal(set_name: str, pod: Obj) -> int | None:
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", pod["metadata"].get("name", ""))
    return int(m.group(1)) if m else None


def running_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


class StatefulSetController(Controller):
    name = "statefulset"
    event_source = "statefulset-controller"
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.sets = self.informer(STATEFULSETS)
        self.pods = self.informer(PODS)
        self.sets.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new)))
        self.pods.add_handlers(Handlers(self._pod, lambda old, new: self._pod(new), self._pod))

    def _pod(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref and ref.get("kind") == "StatefulSet":
            self.queue.add(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")

    async def sync(self, key: str) -> None:
        sts = self.sets.get(key)
        if sts is None:
            return
        sts = copy.deepcopy(sts)
        ns, name = split_key(key)
        spec = sts.get("spec") or {}
        template = spec.get("template") or {}
        rev = f"{name}-{template_hash(template)}"
        candidates = [p for p in self.pods.list() if p["metadata"].get("namespace") == ns and ordinal(name, p) is not None]
        owned = await claim(self.client, sts, PODS, candidates,
                            lambda p: match_label_selector(spec.get("selector"), p["metadata"].get("labels")))
        pods = {ordinal(name, p): p for p in owned}
        replicas = replicas_of(sts)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        if not is_terminating(sts):
            await self._reconcile(sts, ns, name, pods, replicas, parallel, rev, template)
        await self._status(sts, pods, rev)

    async def _reconcile(self, sts: Obj, ns: str, name: str, pods: dict[int | None, Obj], replicas: int,
                         parallel: bool, rev: str, template: Obj) -> None:
        spec = sts["spec"]
        # 1. make (or replace failed) pods 0..replicas-1, in order unless Parallel
        for i in range(replicas):
            pod = pods.get(i)
            if pod is not None and (pod.get("status") or {}).get("phase") == "Failed" and not is_terminating(pod):
                await self._delete(sts, pod)
                return
            if pod is None:
                await self._create(sts, ns, name, i, rev, template)
                if not parallel:
                    return
                continue
            if not parallel and (is_terminating(pod) or not running_ready(pod)):
                return  # OrderedReady: wait for this one before touching the next
        # 2. condemned pods (ordinal >= replicas), highest first
        condemned = sorted((i for i in pods if i is not None and i >= replicas), reverse=True)
        for i in condemned:
            pod = pods[i]
            if is_terminating(pod):
                if not parallel:
                    return
                continue
            if not parallel and not all(running_ready(pods[j]) for j in range(replicas) if j in pods):
                return
            await self._delete(sts, pod)
            if not parallel:
                return
        if any(i is not None and i >= replicas for i in pods):
            return
        # 3. rolling update from the highest ordinal down to the partition
        strategy = spec.get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if not all(i in pods and running_ready(pods[i]) and not is_terminating(pods[i]) for i in range(replicas)):
            return
        for i in range(replicas - 1, partition - 1, -1):
            pod = pods[i]
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) != rev.rsplit("-", 1)[1]:
                await self._delete(sts, pod)
                return

    async def _create(self, sts: Obj, ns: str, name: str, i: int, rev: str, template: Obj) -> None:
        t = copy.deepcopy(template)
        t.setdefault("spec", {})
        t["spec"]["hostname"] = f"{name}-{i}"
        if sts["spec"].get("serviceName"):
            t["spec"]["subdomain"] = sts["spec"]["serviceName"]
        pod = pod_from_template(t, sts, ns, {HASH_LABEL: rev.rsplit("-", 1)[1], POD_NAME_LABEL: f"{name}-{i}",
                                            POD_INDEX_LABEL: str(i)})
        pod["metadata"].pop("generateName", None)
        pod["metadata"]["name"] = f"{name}-{i}"
        try:
            await self.client.create(PODS, pod, ns)
        except ApiError as e:
            if e.code == 409:
                return  # the previous pod of that name is still leaving; its deletion event brings us back
            self.recorder.event(sts, "Warning", "FailedCreate", f"create Pod {name}-{i} in StatefulSet {name} failed error: {e}")
            raise
        self.recorder.event(sts, "Normal", "SuccessfulCreate", f"create Pod {name}-{i} in StatefulSet {name} successful")

    async def _delete(self, sts: Obj, pod: Obj) -> None:
        md = pod["metadata"]
        try:
            await self.client.delete(PODS, md["name"], md.get("namespace"), uid=md.get("uid"))
        except ApiError as e:
            if e.code not in (404, 409):
                raise
            return
        self.recorder.event(sts, "Normal", "SuccessfulDelete",
                            f"delete Pod {md['name']} in StatefulSet {sts['metadata']['name']} successful")

    async def _status(self, sts: Obj, pods: dict[int | None, Obj], rev: str) -> None:
        h = rev.rsplit("-", 1)[1]
        live = [p for p in pods.values() if not is_terminating(p)]
        mrs = int(sts["spec"].get("minReadySeconds") or 0)
        old = sts.get("status") or {}
        updated = sum(1 for p in live if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == h)
        current_rev = old.get("currentRevision") or rev
        replicas = replicas_of(sts)
        if updated == replicas and len(live) == replicas:
            current_rev = rev  # the rollout is complete
        ch = current_rev.rsplit("-", 1)[-1]
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": sum(1 for p in live if is_ready(p)),
            "availableReplicas": sum(1 for p in live if is_available(p, mrs)),
            "currentReplicas": sum(1 for p in live if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == ch),
            "updatedReplicas": updated,
            "currentRevision": current_rev,
            "updateRevision": rev,
            "collisionCount": old.get("collisionCount", 0),
        }
        if all(old.get(k, 0) == v for k, v in status.items()):
            return
        md = sts["metadata"]
        try:
            await self.client.patch(STATEFULSETS, md["name"], {"status": status}, md["namespace"], subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise
