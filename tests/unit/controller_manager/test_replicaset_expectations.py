"""A pod delete that fails in any way - an error answer or no answer at all (the apiserver
unreachable) - stops the ReplicaSet controller from expecting that pod's deletion, so the next
sync may try again at once instead of waiting out the 5-minute expectations timeout."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeling.services.controller_manager.controller import Context, InformerFactory, Options
from kubeling.services.controller_manager.metrics import Metrics
from kubeling.services.controller_manager.replicaset import ReplicaSetController
from kubeling.shared.client import ApiError, Unavailable
from kubeling.shared.events import EventRecorder

Obj = dict[str, Any]


class FakeClient:
    """Pod deletes fail as scripted per pod name; everything else succeeds."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        self.failures = failures
        self.deleted: list[str] = []

    async def delete(self, res, name, namespace=None, *, grace_period_seconds=None, uid=None):
        if name in self.failures:
            raise self.failures[name]
        self.deleted.append(name)
        return {}

    async def create(self, res, obj, namespace=None):
        return obj

    async def patch(self, *a, **k):
        return {}


def pod(name: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"u-{name}", "labels": {"app": "web"}},
            "status": {"phase": "Running"}}


@pytest.mark.parametrize("failure", [Unavailable("no apiserver reachable: ReadError('')"),
                                     ApiError(500, {"reason": "InternalError"})])
def test_failed_delete_is_not_expected_any_more(failure: Exception) -> None:
    async def run() -> None:
        client = FakeClient({"p2": failure})
        ctx = Context(client, InformerFactory(client), EventRecorder(client, "t"), Options(), Metrics())  # type: ignore[arg-type]
        ctl = ReplicaSetController(ctx)
        owner = {"kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "default", "uid": "rs-1"},
                 "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}}}
        with pytest.raises(type(failure)):
            await ctl.manage_replicas("default/web", owner, [pod("p1"), pod("p2"), pod("p3")])
        assert sorted(client.deleted) == ["p1", "p3"]
        assert not ctl.expectations.satisfied("default/web")  # p1 and p3: their deletions are still due
        ctl.expectations.deletion_observed("default/web", "default/p1")
        ctl.expectations.deletion_observed("default/web", "default/p3")
        assert ctl.expectations.satisfied("default/web")  # nothing waits for p2

    asyncio.run(run())
