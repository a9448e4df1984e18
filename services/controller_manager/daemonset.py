"""DaemonSet controller: one pod on every node that should run it; rolling updates.

A node should run the daemon pod when it matches the template's nodeSelector and required
node affinity and every NoSchedule/NoExecute taint is tolerated (daemon pods tolerate
not-ready, unreachable, pressure and unschedulable by default, as upstream adds). Pods are
created with a required node affinity on `metadata.name` of their node and left for the
scheduler to bind, as upstream has done since 1.12. A template change rolls out node by node,
at most maxUnavailable (1) daemon pods down at a time; the template's revision is the
`controller-revision-hash` label (kubeling keeps no ControllerRevision objects, so `rollout
history/undo` for DaemonSets is not available).
"""
from __future__ import annotations

import asyncio
import copy
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers
from kubeling.shared.selectors import (
    match_label_selector,
    match_labels,
    match_node_selector,
)

from .controller import Context, Controller, key_of, split_key
from .deploymentutil import scaled_value, template_hash
from .expectations import Expectations
from .podutil import (
    controller_ref,
    is_available,
    is_ready,
    is_terminating,
    pod_from_template,
)
from .refmanager import claim
from .resources import DAEMONSETS, NODES, PODS
from .taintmanager import tolerates

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def with_default_tolerations(spec: Obj) -> list[Obj]:
    tols = list(spec.get("tolerations") or [])
    for t in DEFAULT_TOLERATIONS:
        if not any(x.get("key") == t["key"] and x.get("effect") == t["effect"] for x in tols):
            tols.append(dict(t))
    return tols


def should_run(template_spec: Obj, node: Obj) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not match_labels(template_spec.get("nodeSelector"), labels):
        return False
    req = (((template_spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if req and not match_node_selector(req, node):
        return False
    tols = with_default_tolerations(template_spec)
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not any(tolerates(t, taint) for t in tols):
            return False
    return True


def target_node(pod: Obj) -> str:
    """spec.nodeName, or the node the pod's metadata.name affinity pins it to."""
    if (pod.get("spec") or {}).get("nodeName"):
        return pod["spec"]["nodeName"]
    req = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in req.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("values"):
                return f["values"][0]
    return ""


def pin_to_node(spec: Obj, node: str) -> None:
    """Require metadata.name=node in every node selector term (ReplaceDaemonSetPodNodeNameNodeAffinity)."""
    field = {"key": "metadata.name", "operator": "In", "values": [node]}
    na = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = req.get("nodeSelectorTerms") or [{}]
    for t in terms:
        t["matchFields"] = [field]
    na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}


class DaemonSetController(Controller):
    name = "daemonset"
    event_source = "daemonset-controller"
    default_workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.dss = self.informer(DAEMONSETS)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.dss.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new),
                                       lambda d: self.expectations.forget(key_of(d))))
        self.pods.add_handlers(Handlers(lambda p: self._pod(p, created=True), lambda old, new: self._pod(new),
                                        lambda p: self._pod(p, deleted=True)))
        self.nodes.add_handlers(Handlers(lambda n: self._all(), lambda old, new: self._node_updated(old, new),
                                         lambda n: self._all()))

    def _all(self) -> None:
        for d in self.dss.list():
            self.enqueue(d)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if ((old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels")
                or (old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints")):
            self._all()

    def _pod(self, pod: Obj, created: bool = False, deleted: bool = False) -> None:
        ref = controller_ref(pod)
        if not ref or ref.get("kind") != "DaemonSet":
            return
        key = f"{pod['metadata'].get('namespace')}/{ref.get('name')}"
        if created:
            self.expectations.creation_observed(key)
        if deleted or is_terminating(pod):
            self.expectations.deletion_observed(key, key_of(pod))
        self.queue.add(key)

    async def sync(self, key: str) -> None:
        ds = self.dss.get(key)
        if ds is None:
            return
        ns, _ = split_key(key)
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        h = template_hash(template)
        candidates = [p for p in self.pods.list() if p["metadata"].get("namespace") == ns]
        owned = await claim(self.client, ds, PODS, candidates,
                            lambda p: match_label_selector(spec.get("selector"), p["metadata"].get("labels")))
        live = [p for p in owned if not is_terminating(p)]
        by_node: dict[str, list[Obj]] = {}
        for p in live:
            by_node.setdefault(target_node(p), []).append(p)
        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        wanted = {name for name, n in nodes.items() if should_run(template.get("spec") or {}, n)}
        mrs = int(spec.get("minReadySeconds") or 0)

        create: list[str] = []
        delete: list[Obj] = []
        if self.expectations.satisfied(key) and not is_terminating(ds):
            for name in wanted:
                pods = [p for p in by_node.get(name, []) if (p.get("status") or {}).get("phase") != "Failed"]
                delete += [p for p in by_node.get(name, []) if (p.get("status") or {}).get("phase") == "Failed"]
                if not pods:
                    create.append(name)
                elif len(pods) > 1:  # keep the oldest
                    delete += sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))[1:]
            for name, pods in by_node.items():
                if name not in wanted:
                    delete += pods
            delete += self._rolling_victims(ds, wanted, by_node, h, mrs, delete)
            await self._apply(ds, key, ns, template, h, create, delete)

        await self._status(ds, wanted, by_node, h, mrs)

    def _rolling_victims(self, ds: Obj, wanted: set[str], by_node: dict[str, list[Obj]], h: str, mrs: int,
                         already: list[Obj]) -> list[Obj]:
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return []
        max_unavailable = scaled_value((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(wanted), True) or 1
        gone = {id(p) for p in already}
        old_unavailable, old_available = [], []
        unavailable = 0
        for name in wanted:
            pods = [p for p in by_node.get(name, []) if id(p) not in gone]
            if not pods or not any(is_available(p, mrs) for p in pods):
                unavailable += 1
            for p in pods:
                if (p["metadata"].get("labels") or {}).get(HASH_LABEL) != h:
                    (old_available if is_available(p, mrs) else old_unavailable).append(p)
        budget = max(max_unavailable - unavailable, 0)
        return old_unavailable + sorted(old_available, key=lambda p: target_node(p))[:budget]

    async def _apply(self, ds: Obj, key: str, ns: str, template: Obj, h: str, create: list[str], delete: list[Obj]) -> None:
        if create:
            self.expectations.expect_creations(key, len(create))
        elif delete:
            self.expectations.expect_deletions(key, [key_of(p) for p in delete])

        async def make(node: str) -> None:
            t = copy.deepcopy(template)
            t.setdefault("spec", {})
            pin_to_node(t["spec"], node)
            t["spec"]["tolerations"] = with_default_tolerations(t["spec"])
            pod = pod_from_template(t, ds, ns, {HASH_LABEL: h})
            try:
                await self.client.create(PODS, pod, ns)
            except Exception:
                self.expectations.creation_observed(key)
                raise

        async def kill(p: Obj) -> None:
            md = p["metadata"]
            try:
                await self.client.delete(PODS, md["name"], md.get("namespace"), uid=md.get("uid"))
                self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {md['name']}")
            except ApiError as e:
                self.expectations.deletion_observed(key, key_of(p))
                if e.code not in (404, 409):
                    raise

        results = await asyncio.gather(*(make(n) for n in create), *(kill(p) for p in (delete if not create else [])),
                                       return_exceptions=True)
        if create and delete:
            self.queue.add(key)  # deletions next round, once the creations are observed
        errs = [r for r in results if isinstance(r, Exception)]
        if errs:
            raise errs[0]

    async def _status(self, ds: Obj, wanted: set[str], by_node: dict[str, list[Obj]], h: str, mrs: int) -> None:
        on_wanted = [p for n in wanted for p in by_node.get(n, [])[:1]]
        available = sum(1 for p in on_wanted if is_available(p, mrs))
        status: Obj = {
            "desiredNumberScheduled": len(wanted),
            "currentNumberScheduled": sum(1 for n in wanted if by_node.get(n)),
            "numberMisscheduled": sum(1 for n in by_node if n not in wanted and by_node[n]),
            "numberReady": sum(1 for p in on_wanted if is_ready(p)),
            "numberAvailable": available,
            "numberUnavailable": len(wanted) - available,
            "updatedNumberScheduled": sum(1 for p in on_wanted if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == h),
            "observedGeneration": ds["metadata"].get("generation", 1),
        }
        old = ds.get("status") or {}
        if all(old.get(k, 0) == v for k, v in status.items()):
            if mrs and status["numberReady"] != available:
                self.queue.add_after(key_of(ds), mrs)
            return
        md = ds["metadata"]
        try:
            await self.client.patch(DAEMONSETS, md["name"], {"status": status}, md["namespace"], subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise
        if mrs and status["numberReady"] != available:
            self.queue.add_after(key_of(ds), mrs)
