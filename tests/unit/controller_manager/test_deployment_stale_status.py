"""A rolling update must not trust a ReplicaSet's status beyond its spec: right after an old
ReplicaSet is scaled down, its status still counts the pods it is about to delete. Counting
them as available would let the next sync scale it down again, taking availability below
replicas - maxUnavailable (seen at 500 and 1,000 replicas on a loaded machine)."""
from __future__ import annotations

import asyncio
import copy

from kubeling.services.controller_manager import deploymentutil as du
from kubeling.services.controller_manager.controller import Context, InformerFactory, Options
from kubeling.services.controller_manager.deployment import DeploymentController
from kubeling.services.controller_manager.metrics import Metrics
from kubeling.shared.events import EventRecorder
from tests.unit.controller_manager.test_deployment_rollout import FakeClient, deployment


def rs(name: str, uid: str, template: dict, spec: int, available: int, created: str, revision: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default", "uid": uid, "creationTimestamp": created,
                         "labels": dict(template["metadata"]["labels"]),
                         "annotations": {du.REVISION: revision, du.DESIRED_REPLICAS: "500", du.MAX_REPLICAS: "625"},
                         "ownerReferences": [{"uid": "d-1", "controller": True, "kind": "Deployment", "name": "web"}]},
            "spec": {"replicas": spec, "template": template},
            "status": {"replicas": max(spec, available), "availableReplicas": available, "readyReplicas": available}}


def test_old_replicaset_status_lagging_its_scale_down_is_not_counted() -> None:
    async def run() -> None:
        d = deployment(500, "25%", "25%", "nginx:1.25")
        d["metadata"]["annotations"] = {du.REVISION: "2"}
        client = FakeClient(d)
        new_t = copy.deepcopy(d["spec"]["template"])
        new_t["metadata"]["labels"]["pod-template-hash"] = du.template_hash(d["spec"]["template"])
        old_t = copy.deepcopy(d["spec"]["template"])
        old_t["spec"]["containers"][0]["image"] = "nginx"
        old_t["metadata"]["labels"]["pod-template-hash"] = du.template_hash({**old_t, "metadata": {"labels": {"app": "web"}}})
        # old: just scaled 500 -> 375, its status still shows 500 available; new: at its surge
        # size (250, total 625 = 500 + maxSurge), 50 of them available
        old = rs("web-old", "rs-old", old_t, 375, 500, "2025-01-01T00:00:00Z", "1")
        new = rs(f"web-{new_t['metadata']['labels']['pod-template-hash']}", "rs-new", new_t, 250, 50,
                 "2025-01-02T00:00:00Z", "2")
        client.rss = {old["metadata"]["name"]: old, new["metadata"]["name"]: new}
        ctx = Context(client, InformerFactory(client), EventRecorder(client, "t"), Options(), Metrics())  # type: ignore[arg-type]
        ctl = DeploymentController(ctx)
        await ctl.rollout_rolling(copy.deepcopy(d), [copy.deepcopy(r) for r in client.rss.values()])
        floor = 500 - du.max_unavailable(d)
        old_left = client.rss["web-old"]["spec"]["replicas"]
        # at most the old ReplicaSet's remaining pods plus the new ones ready can be available
        assert old_left + 50 >= floor, f"old scaled to {old_left}: at most {old_left + 50} available < {floor}"
        assert old_left < 375  # it still made progress: 50 new pods are ready

    asyncio.run(run())
