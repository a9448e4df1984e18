"""The Deployment controller's rolling update against an in-memory API (no cluster): every step
keeps total pods <= replicas + maxSurge and available pods >= replicas - maxUnavailable, and the
rollout ends with the new ReplicaSet at full size and the old one at zero."""
from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

import pytest
from kubeling.services.controller_manager import deploymentutil as du
from kubeling.services.controller_manager.controller import (
    Context,
    InformerFactory,
    Options,
)
from kubeling.services.controller_manager.deployment import DeploymentController
from kubeling.services.controller_manager.metrics import Metrics
from kubeling.shared.events import EventRecorder

Obj = dict[str, Any]


class FakeClient:
    """Just enough of shared.client.Client: ReplicaSets and the Deployment live in dicts."""

    def __init__(self, deployment: Obj) -> None:
        self.d = deployment
        self.rss: dict[str, Obj] = {}
        self.uids = itertools.count(1)

    async def create(self, res, obj, namespace=None):
        obj = copy.deepcopy(obj)
        if res.plural == "replicasets":
            obj["metadata"].update({"uid": f"rs-{next(self.uids)}", "creationTimestamp": f"2026-01-01T00:00:{len(self.rss):02d}Z"})
            obj.setdefault("status", {})
            self.rss[obj["metadata"]["name"]] = obj
        return obj

    async def patch(self, res, name, patch, namespace=None, *, patch_type="merge", subresource=None):
        target = self.d if res.plural == "deployments" else self.rss[name]
        _merge(target, copy.deepcopy(patch))
        return copy.deepcopy(target)

    async def request(self, *a, **k):
        return {}


def _merge(dst: Obj, src: Obj) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        elif v is None:
            dst.pop(k, None)
        else:
            dst[k] = v


def deployment(replicas: int, surge: Any, unavailable: Any, image: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "d-1", "generation": 2},
            "spec": {"replicas": replicas, "progressDeadlineSeconds": 600, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}},
            "status": {}}


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [(10, "25%", "25%"), (4, 1, 0), (4, 0, 1), (3, "50%", "0%")])
def test_rolling_update_respects_surge_and_unavailability(replicas: int, surge: Any, unavailable: Any) -> None:
    async def run() -> None:
        d = deployment(replicas, surge, unavailable, "nginx:1.25")
        client = FakeClient(d)
        old_template = copy.deepcopy(d["spec"]["template"])
        old_template["spec"]["containers"][0]["image"] = "nginx"
        h = du.template_hash(old_template)
        old_template["metadata"]["labels"]["pod-template-hash"] = h
        client.rss[f"web-{h}"] = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                  "metadata": {"name": f"web-{h}", "namespace": "default", "uid": "rs-old",
                                               "creationTimestamp": "2025-01-01T00:00:00Z",
                                               "labels": dict(old_template["metadata"]["labels"]),
                                               "annotations": {du.REVISION: "1", du.DESIRED_REPLICAS: str(replicas)},
                                               "ownerReferences": [{"uid": "d-1", "controller": True, "kind": "Deployment", "name": "web"}]},
                                  "spec": {"replicas": replicas, "template": old_template},
                                  "status": {"replicas": replicas, "availableReplicas": replicas, "readyReplicas": replicas}}
        ctx = Context(client, InformerFactory(client), EventRecorder(client, "t"), Options(), Metrics())  # type: ignore[arg-type]
        ctl = DeploymentController(ctx)
        ctl.recorder = EventRecorder(client, "deployment-controller")  # type: ignore[arg-type]
        floor = replicas - du.max_unavailable(d)
        ceiling = replicas + du.max_surge(d)
        for _ in range(100):
            rss = [copy.deepcopy(rs) for rs in client.rss.values()]
            await ctl.rollout_rolling(copy.deepcopy(client.d), rss)
            total = sum(rs["spec"]["replicas"] for rs in client.rss.values())
            assert total <= ceiling, f"{total} pods wanted > {ceiling}"
            # the "kubelet": scaled-down pods vanish at once, new pods become available one step later
            for rs in client.rss.values():
                st = rs["status"]
                want = rs["spec"]["replicas"]
                st["availableReplicas"] = min(want, st.get("replicas", 0))
                st["readyReplicas"] = st["availableReplicas"]
                st["replicas"] = want
            available = sum(rs["status"]["availableReplicas"] for rs in client.rss.values())
            assert available >= floor, f"available {available} < {floor}"
            new = [rs for rs in client.rss.values() if rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"]
            old = client.rss[f"web-{h}"]
            if new and new[0]["status"]["availableReplicas"] == replicas and old["spec"]["replicas"] == 0:
                break
        else:
            raise AssertionError("rollout did not finish")
        assert new[0]["metadata"]["annotations"][du.REVISION] == "2"
        assert client.d["metadata"].get("annotations", {}).get(du.REVISION) == "2"
        await ctl.rollout_rolling(copy.deepcopy(client.d), [copy.deepcopy(rs) for rs in client.rss.values()])
        conds = {c["type"]: c["reason"] for c in client.d["status"]["conditions"]}
        assert conds == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
        assert client.d["status"]["updatedReplicas"] == replicas and client.d["status"]["availableReplicas"] == replicas

    asyncio.run(run())
