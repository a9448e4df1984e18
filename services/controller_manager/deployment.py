"""Deployment controller: roll a template out through ReplicaSets, as kube-controller-manager does.

Each distinct pod template gets its own ReplicaSet named `<deployment>-<pod-template-hash>`;
the revision annotation orders them, so `kubectl rollout history` and `rollout undo` (which
copies an old ReplicaSet's template back into the Deployment) work. RollingUpdate moves pods
from old ReplicaSets to the new one without exceeding replicas+maxSurge pods or dropping below
replicas-maxUnavailable available ones; Recreate scales the old ones to zero first. Status and
the Available/Progressing conditions are written as `kubectl rollout status` reads them.
"""
from __future__ import annotations

import copy
import time
from typing import Any

from kubeling.shared.client import ApiError
from kubeling.shared.informer import Handlers
from kubeling.shared.selectors import match_label_selector

from . import deploymentutil as du
from .controller import Context, Controller, key_of, split_key
from .podutil import controller_ref, is_terminating, owner_ref_for, parse_time
from .refmanager import claim
from .resources import DEPLOYMENTS, PODS, REPLICASETS

Obj = dict[str, Any]


class DeploymentController(Controller):
    name = "deployment"
    event_source = "deployment-controller"
    default_workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.deployments = self.informer(DEPLOYMENTS)
        self.rss = self.informer(REPLICASETS)
        self.pods = self.informer(PODS)
        self.deployments.add_handlers(Handlers(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue))
        self.rss.add_handlers(Handlers(self._rs_changed, lambda old, new: self._rs_updated(old, new), self._rs_changed))
        self.pods.add_handlers(Handlers(on_delete=self._pod_deleted))
        self._stored_status: dict[str, Obj] = {}

    # -- event handlers ----------------------------------------------------------------------------

    def _owner_of(self, rs: Obj) -> Obj | None:
        ref = controller_ref(rs)
        if not ref or ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get(f"{rs['metadata'].get('namespace')}/{ref.get('name')}")
        if d is None or d["metadata"].get("uid") != ref.get("uid"):
            return None
        return d

    def _rs_changed(self, rs: Obj) -> None:
        d = self._owner_of(rs)
        if d is not None:
            self.enqueue(d)
        elif controller_ref(rs) is None:
            ns, labels = rs["metadata"].get("namespace"), rs["metadata"].get("labels") or {}
            for d in self.deployments.list():
                if d["metadata"].get("namespace") == ns and _selects(d, labels):
                    self.enqueue(d)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        before = self._owner_of(old)
        if before is not None and controller_ref(new) != controller_ref(old):
            self.enqueue(before)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for old pods to be gone; their deletion is its cue."""
        ref = controller_ref(pod)
        if not ref or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rss.get(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")
        d = self._owner_of(rs) if rs else None
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.enqueue(d)

    # -- sync ------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        d = self.deployments.get(key)
        if d is None:
            self._stored_status.pop(key, None)
            return
        d = copy.deepcopy(d)
        # what the apiserver has; d["status"] collects condition edits made along the way
        self._stored_status[key] = copy.deepcopy(d.get("status") or {})
        spec = d.get("spec") or {}
        if not (spec.get("selector") or {}).get("matchLabels") and not (spec.get("selector") or {}).get("matchExpressions"):
            self.recorder.event(d, "Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
            return
        ns, _ = split_key(key)
        uid = d["metadata"]["uid"]
        candidates = [rs for rs in self.rss.list() if rs["metadata"].get("namespace") == ns and
                      (not is_terminating(rs) or (controller_ref(rs) or {}).get("uid") == uid)]
        rss = [copy.deepcopy(rs) for rs in await claim(self.client, d, REPLICASETS, candidates,
                                                        lambda rs: _selects(d, rs["metadata"].get("labels")))]
        if is_terminating(d):
            await self.sync_status(d, rss, None, rollout=False)
            return
        self._check_paused(d)
        if spec.get("paused"):
            new_rs, old = await self.get_all(d, rss, create=False)
            await self.scale(d, new_rs, old)
            await self.sync_status(d, rss, new_rs, rollout=False)
            return
        if self._is_scaling_event(d, rss):
            new_rs, old = await self.get_all(d, rss, create=False)
            await self.scale(d, new_rs, old)
            await self.sync_status(d, rss, new_rs, rollout=False)
            return
        if ((spec.get("strategy") or {}).get("type") or "RollingUpdate") == "Recreate":
            await self.rollout_recreate(d, rss)
        else:
            await self.rollout_rolling(d, rss)

    def _check_paused(self, d: Obj) -> None:
        """Progressing=Unknown/DeploymentPaused while paused; DeploymentResumed once resumed."""
        status = d.setdefault("status", {})
        if not (d["spec"].get("progressDeadlineSeconds")):
            return
        cond = du.get_condition(status, "Progressing")
        paused = bool(d["spec"].get("paused"))
        if paused and not (cond and cond.get("reason") == "DeploymentPaused"):
            du.set_condition(status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        elif not paused and cond and cond.get("reason") == "DeploymentPaused":
            du.set_condition(status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")

    def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        want = str(du.replicas_of(d))
        for rs in rss:
            if du.replicas_of(rs) <= 0:
                continue
            desired = ((rs["metadata"].get("annotations") or {}).get(du.DESIRED_REPLICAS))
            if desired is not None and desired != want:
                return True
        return False

    # -- ReplicaSets of a Deployment ----------------------------------------------------------------

    async def get_all(self, d: Obj, rss: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """(new ReplicaSet, old ReplicaSets); the new one's revision annotations brought up to date."""
        template = d["spec"].get("template") or {}
        rss = sorted(rss, key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]))
        new_rs = next((rs for rs in rss if du.equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template)), None)
        old = [rs for rs in rss if rs is not new_rs]
        new_revision = max((du.revision(rs) for rs in old), default=0) + 1
        if new_rs is not None:
            await self._update_new_rs_annotations(d, new_rs, new_revision)
        elif create:
            new_rs = await self._create_new_rs(d, old, new_revision)
        if new_rs is not None:
            await self._set_deployment_revision(d, (new_rs["metadata"].get("annotations") or {}).get(du.REVISION, ""))
        return new_rs, old

    def _annotations_for_rs(self, d: Obj, rs_annotations: dict[str, str], revision: int, new_rs: bool) -> dict[str, str]:
        out = dict(rs_annotations)
        for k, v in (d["metadata"].get("annotations") or {}).items():
            if k not in du.SKIP_ANNOTATIONS:
                out[k] = v
        old_rev = out.get(du.REVISION)
        if not old_rev or int(old_rev or 0) < revision:
            out[du.REVISION] = str(revision)
            if old_rev and not new_rs:
                hist = [h for h in (out.get(du.REVISION_HISTORY) or "").split(",") if h]
                out[du.REVISION_HISTORY] = ",".join(hist + [old_rev])
        out[du.DESIRED_REPLICAS] = str(du.replicas_of(d))
        out[du.MAX_REPLICAS] = str(du.replicas_of(d) + du.max_surge(d))
        return out

    async def _update_new_rs_annotations(self, d: Obj, rs: Obj, revision: int) -> None:
        """Revision max(old)+1 (an undo makes an old template new again, under a new number)."""
        cur = rs["metadata"].get("annotations") or {}
        want = self._annotations_for_rs(d, cur, revision, False)
        mrs = d["spec"].get("minReadySeconds") or 0
        if want == cur and ((rs.get("spec") or {}).get("minReadySeconds") or 0) == mrs:
            return
        md = rs["metadata"]
        updated = await self.client.patch(REPLICASETS, md["name"], {"metadata": {"annotations": want},
                                                                     "spec": {"minReadySeconds": mrs}}, md["namespace"])
        rs["metadata"] = updated["metadata"]
        rs["spec"] = updated.get("spec") or rs.get("spec")

    async def _create_new_rs(self, d: Obj, old: list[Obj], revision: int) -> Obj:
        status = d.setdefault("status", {})
        collisions = status.get("collisionCount")
        h = du.template_hash(d["spec"]["template"], collisions)
        template = copy.deepcopy(d["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[du.HASH_LABEL] = h
        ns, name = d["metadata"]["namespace"], f"{d['metadata']['name']}-{h}"
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": name, "namespace": ns, "labels": dict(template["metadata"]["labels"]),
                                "ownerReferences": [owner_ref_for(d)],
                                "annotations": self._annotations_for_rs(d, {}, revision, True)},
                   "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds") or 0,
                            "selector": selector, "template": template}}
        rs["spec"]["replicas"] = du.new_rs_new_replicas(d, old, rs)
        try:
            created = await self.client.create(REPLICASETS, rs, ns)
        except ApiError as e:
            if e.code != 409:
                raise
            existing = await self.client.get(REPLICASETS, name, ns)
            if (controller_ref(existing) or {}).get("uid") == d["metadata"]["uid"] and du.equal_ignore_hash(
                    existing["spec"]["template"], d["spec"]["template"]):
                return existing
            # a hash collision with somebody else's ReplicaSet: bump collisionCount and try another name
            await self.client.patch(DEPLOYMENTS, d["metadata"]["name"], {"status": {"collisionCount": (collisions or 0) + 1}},
                                    ns, subresource="status")
            raise
        n = created["spec"].get("replicas", 0)
        self.recorder.event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {n}")
        if d["spec"].get("progressDeadlineSeconds"):
            du.set_condition(status, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"')
        return created

    async def _set_deployment_revision(self, d: Obj, rev: str) -> None:
        ann = d["metadata"].get("annotations") or {}
        if not rev or ann.get(du.REVISION) == rev:
            return
        md = d["metadata"]
        updated = await self.client.patch(DEPLOYMENTS, md["name"], {"metadata": {"annotations": {du.REVISION: rev}}},
                                          md["namespace"])
        d["metadata"] = updated["metadata"]

    async def scale_rs(self, d: Obj, rs: Obj, n: int) -> bool:
        """Set a ReplicaSet's replicas (and the desired/max annotations the scaling logic reads)."""
        md = rs["metadata"]
        ann = md.get("annotations") or {}
        want_ann = {du.DESIRED_REPLICAS: str(du.replicas_of(d)), du.MAX_REPLICAS: str(du.replicas_of(d) + du.max_surge(d))}
        before = du.replicas_of(rs)
        if before == n and all(ann.get(k) == v for k, v in want_ann.items()):
            return False
        updated = await self.client.patch(REPLICASETS, md["name"], {"metadata": {"annotations": want_ann},
                                                                     "spec": {"replicas": n}}, md["namespace"])
        rs["metadata"], rs["spec"] = updated["metadata"], updated["spec"]
        if before != n:
            verb = "up" if n > before else "down"
            self.recorder.event(d, "Normal", "ScalingReplicaSet", f"Scaled {verb} replica set {md['name']} from {before} to {n}")
        return before != n

    # -- strategies ------------------------------------------------------------------------------

    async def rollout_rolling(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old = await self.get_all(d, rss, create=True)
        all_rss = old + ([new_rs] if new_rs else [])
        if await self._reconcile_new(d, all_rss, new_rs) or await self._reconcile_old(d, all_rss, old, new_rs):
            await self.sync_status(d, all_rss, new_rs)
            return
        status = self.calculate_status(d, all_rss, new_rs)
        if du.deployment_complete(d, status):
            await self.cleanup(d, old)
        await self.sync_status(d, all_rss, new_rs)

    async def _reconcile_new(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> bool:
        if new_rs is None:
            return False
        want = du.replicas_of(d)
        if du.replicas_of(new_rs) == want:
            return False
        if du.replicas_of(new_rs) > want:
            return await self.scale_rs(d, new_rs, want)
        return await self.scale_rs(d, new_rs, du.new_rs_new_replicas(d, all_rss, new_rs))

    async def _reconcile_old(self, d: Obj, all_rss: list[Obj], old: list[Obj], new_rs: Obj | None) -> bool:
        """Scale old ReplicaSets down as far as maxUnavailable allows (reconcileOldReplicaSets)."""
        if sum(du.replicas_of(rs) for rs in old) == 0:
            return False
        all_pods = sum(du.replicas_of(rs) for rs in all_rss)
        min_available = du.replicas_of(d) - du.max_unavailable(d)
        new_unavailable = (du.replicas_of(new_rs) - _available(new_rs)) if new_rs else 0
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        scaled = 0
        # first the unhealthy replicas of old sets: they cost no availability
        for rs in sorted(old, key=lambda r: r["metadata"].get("creationTimestamp", "")):
            if scaled >= max_scaled_down:
                break
            reps = du.replicas_of(rs)
            unhealthy = reps - _available(rs)
            if reps == 0 or unhealthy <= 0:
                continue
            cut = min(unhealthy, max_scaled_down - scaled)
            if await self.scale_rs(d, rs, reps - cut):
                scaled += cut
        # then healthy ones, oldest first, while availability stays above the floor
        available = sum(_available(rs) for rs in all_rss)
        budget = available - min_available - scaled
        if budget > 0:
            for rs in sorted(old, key=lambda r: r["metadata"].get("creationTimestamp", "")):
                if budget <= 0:
                    break
                reps = du.replicas_of(rs)
                if reps == 0:
                    continue
                cut = min(reps, budget)
                if await self.scale_rs(d, rs, reps - cut):
                    scaled += cut
                    budget -= cut
        return scaled > 0

    async def rollout_recreate(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old = await self.get_all(d, rss, create=False)
        all_rss = old + ([new_rs] if new_rs else [])
        scaled = False
        for rs in old:
            if du.replicas_of(rs) > 0:
                scaled = await self.scale_rs(d, rs, 0) or scaled
        if scaled:
            await self.sync_status(d, all_rss, new_rs)
            return
        old_uids = {rs["metadata"]["uid"] for rs in old}
        if any((controller_ref(p) or {}).get("uid") in old_uids and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
               for p in self.pods.list() if p["metadata"].get("namespace") == d["metadata"]["namespace"]):
            await self.sync_status(d, all_rss, new_rs)
            return  # old pods still running: a pod deletion will wake us
        if new_rs is None:
            new_rs, old = await self.get_all(d, rss, create=True)
            all_rss = old + ([new_rs] if new_rs else [])
        elif du.replicas_of(new_rs) != du.replicas_of(d):
            await self.scale_rs(d, new_rs, du.replicas_of(d))
        status = self.calculate_status(d, all_rss, new_rs)
        if du.deployment_complete(d, status):
            await self.cleanup(d, old)
        await self.sync_status(d, all_rss, new_rs)

    async def scale(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
        """Replica count changed (or paused): resize without rolling (proportional scaling)."""
        active = [rs for rs in ([new_rs] if new_rs else []) + old if du.replicas_of(rs) > 0]
        want = du.replicas_of(d)
        if len(active) <= 1:
            target = active[0] if active else new_rs
            if target is not None:
                await self.scale_rs(d, target, want)
            return
        if new_rs is not None and du.replicas_of(new_rs) == want:  # new set saturated: old ones go
            for rs in old:
                await self.scale_rs(d, rs, 0)
            return
        rolling = ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"
        allowed = want + (du.max_surge(d) if rolling else 0)
        current = sum(du.replicas_of(rs) for rs in active)
        diff = allowed - current
        if diff == 0:
            for rs in active:
                await self.scale_rs(d, rs, du.replicas_of(rs))  # refresh the desired annotations
            return
        ordered = sorted(active, key=lambda rs: (-du.replicas_of(rs), rs["metadata"].get("creationTimestamp", "")))
        remaining = diff
        targets: dict[str, int] = {}
        for rs in ordered:
            share = int(diff * du.replicas_of(rs) / current) if current else 0
            share = max(share, -du.replicas_of(rs))
            targets[rs["metadata"]["name"]] = du.replicas_of(rs) + share
            remaining -= share
        first = ordered[0]["metadata"]["name"]
        targets[first] = max(targets[first] + remaining, 0)
        for rs in ordered:
            await self.scale_rs(d, rs, targets[rs["metadata"]["name"]])

    async def cleanup(self, d: Obj, old: list[Obj]) -> None:
        """Delete the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit."""
        limit = d["spec"].get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        dead = [rs for rs in old if du.replicas_of(rs) == 0 and (rs.get("status") or {}).get("replicas", 0) == 0
                and not is_terminating(rs)]
        excess = len(dead) - limit
        if excess <= 0:
            return
        for rs in sorted(dead, key=du.revision)[:excess]:
            md = rs["metadata"]
            try:
                await self.client.delete(REPLICASETS, md["name"], md["namespace"], uid=md.get("uid"))
            except ApiError as e:
                if e.code not in (404, 409):
                    raise

    # -- status ------------------------------------------------------------------------------------

    def calculate_status(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> Obj:
        prev = d.get("status") or {}
        st = lambda rs, k: (rs.get("status") or {}).get(k, 0)
        available = sum(st(rs, "availableReplicas") for rs in all_rss)
        status: Obj = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(st(rs, "replicas") for rs in all_rss),
            "updatedReplicas": st(new_rs, "replicas") if new_rs else 0,
            "readyReplicas": sum(st(rs, "readyReplicas") for rs in all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(du.replicas_of(d) - available, 0),
            "conditions": copy.deepcopy(prev.get("conditions") or []),
        }
        if prev.get("collisionCount") is not None:
            status["collisionCount"] = prev["collisionCount"]
        if available >= du.replicas_of(d) - du.max_unavailable(d):
            du.set_condition(status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            du.set_condition(status, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        return status

    async def sync_status(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None, rollout: bool = True) -> None:
        """Write status; during rollouts Progressing as syncRolloutStatus computes it, and a
        requeue for when the progress deadline would pass."""
        status = self.calculate_status(d, all_rss, new_rs)
        deadline = d["spec"].get("progressDeadlineSeconds")
        if not deadline:
            status["conditions"] = [c for c in status["conditions"] if c.get("type") != "Progressing"]
        cur = du.get_condition(d.get("status") or {}, "Progressing")
        complete_before = (status.get("replicas") == status.get("updatedReplicas") and cur is not None
                           and cur.get("reason") == "NewReplicaSetAvailable")
        what = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{d["metadata"]["name"]}"'
        if rollout and deadline and not complete_before and not d["spec"].get("paused"):
            if du.deployment_complete(d, status):
                du.set_condition(status, "Progressing", "True", "NewReplicaSetAvailable", f"{what} has successfully progressed.")
            elif du.deployment_progressing(d, status):
                du.set_condition(status, "Progressing", "True", "ReplicaSetUpdated", f"{what} is progressing.")
                c = du.get_condition(status, "Progressing")
                assert c is not None
                c["lastUpdateTime"] = du.now_rfc3339()  # progress pushes the deadline out
            elif self._timed_out(status, float(deadline)):
                if (du.get_condition(status, "Progressing") or {}).get("reason") != "ProgressDeadlineExceeded":
                    self.recorder.event(d, "Warning", "ProgressDeadlineExceeded", f"{what} has timed out progressing.")
                du.set_condition(status, "Progressing", "False", "ProgressDeadlineExceeded", f"{what} has timed out progressing.")
        if not _status_equal(self._stored_status.get(key_of(d), d.get("status") or {}), status):
            md = d["metadata"]
            try:
                await self.client.patch(DEPLOYMENTS, md["name"], {"status": status}, md["namespace"], subresource="status")
            except ApiError as e:
                if e.code != 404:
                    raise
        # requeueStuckDeployment: look again when the deadline would pass without progress
        cond = du.get_condition(status, "Progressing")
        if rollout and deadline and cond and not du.deployment_complete(d, status) and cond.get("reason") != "ProgressDeadlineExceeded":
            since = parse_time(cond.get("lastUpdateTime")) or time.time()
            self.queue.add_after(key_of(d), max(since + float(deadline) - time.time(), 0) + 0.5)

    @staticmethod
    def _timed_out(status: Obj, deadline: float) -> bool:
        cond = du.get_condition(status, "Progressing")
        if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
            return False
        if cond.get("reason") == "ProgressDeadlineExceeded":
            return True
        since = parse_time(cond.get("lastUpdateTime"))
        return since is not None and since + deadline < time.time()


def _available(rs: Obj) -> int:
    """The available pods a ReplicaSet can be counted on for: its status, but never more than
    its spec. Right after a scale-down the status still counts the pods being deleted (it is
    written before they go); upstream sums the status alone, and a controller that syncs again
    before the ReplicaSet's status catches up then scales the old set down a second time,
    below replicas - maxUnavailable (seen with 500 and 1,000 replicas on a loaded machine)."""
    return min(int((rs.get("status") or {}).get("availableReplicas", 0) or 0), du.replicas_of(rs))


def _selects(d: Obj, labels: dict[str, str] | None) -> bool:
    sel = (d.get("spec") or {}).get("selector")
    return bool(sel) and match_label_selector(sel, labels)


def _status_equal(a: Obj, b: Obj) -> bool:
    strip = lambda s: {k: v for k, v in s.items() if k != "conditions" and v not in (0, None)}
    ca = {c.get("type"): (c.get("status"), c.get("reason"), c.get("message")) for c in a.get("conditions") or []}
    cb = {c.get("type"): (c.get("status"), c.get("reason"), c.get("message")) for c in b.get("conditions") or []}
    return strip(a) == strip(b) and ca == cb
