"""The kubelet writes its node status only when it changed or the report period is up (upstream's
nodeStatusReportFrequency); every update period it reads its Node from the apiserver's cache."""
from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from kubeling.services.node.kubelet.nodestatus import NodeStatusManager, status_changed
from kubeling.shared.client import Client
from kubeling.shared.kubeconfig import ClientConfig
from tests.support.fakehttp import FakeRequest, FakeTransport, json_response


class Nodes:
    """One Node behind GET (noting resourceVersion) and PATCH of its status."""

    def __init__(self) -> None:
        self.node: dict[str, Any] = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"}, "status": {}}
        self.gets: list[str | None] = []
        self.patches = 0

    def __call__(self, req: FakeRequest):
        if req.method == "GET":
            self.gets.append(req.params.get("resourceVersion"))
            return json_response(200, self.node)
        assert req.method == "PATCH" and req.url.path.endswith("/nodes/n1/status")
        self.patches += 1
        self.node["status"] = json.loads(req.content)["status"]
        return json_response(200, self.node)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def manager(api: Nodes, clock: Clock) -> NodeStatusManager:
    c = Client(ClientConfig(servers=["http://127.0.0.1:1"]))
    c._http = FakeTransport(api)
    return NodeStatusManager(c, "n1", "127.0.0.1", 10250, "1", "1Gi", 10, {}, [], None, report_period=300, clock=clock)


def test_an_unchanged_status_is_written_once_per_report_period():
    api, clock = Nodes(), Clock()
    nsm = manager(api, clock)

    async def main() -> None:
        await nsm.post_status()  # the first period writes
        assert api.patches == 1
        for _ in range(5):  # quiet periods: read, compare, no write (heartbeat times aside)
            clock.t += 10
            await nsm.post_status()
        assert api.patches == 1
        clock.t += 300  # the report period is up: written again although nothing changed
        await nsm.post_status()
        assert api.patches == 2

    asyncio.run(main())
    assert api.gets and set(api.gets) == {"0"}  # always from the apiserver's cache


def test_a_condition_changed_by_someone_else_is_written_at_once():
    api, clock = Nodes(), Clock()
    nsm = manager(api, clock)

    async def main() -> None:
        await nsm.post_status()
        ready = next(c for c in api.node["status"]["conditions"] if c["type"] == "Ready")
        ready.update(status="Unknown", reason="NodeStatusUnknown")  # the node controller's verdict
        clock.t += 10
        await nsm.post_status()
        assert api.patches == 2
        ready = next(c for c in api.node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"

    asyncio.run(main())


def test_status_changed_ignores_only_heartbeat_times():
    api, clock = Nodes(), Clock()
    nsm = manager(api, clock)
    old = nsm.status()
    beat = copy.deepcopy(old)
    for c in beat["conditions"]:
        c["lastHeartbeatTime"] = "2030-01-01T00:00:00Z"
    assert not status_changed(old, beat)
    other = copy.deepcopy(old)
    other["capacity"]["pods"] = "11"
    assert status_changed(old, other)
    moved = copy.deepcopy(old)
    moved["conditions"][0]["lastTransitionTime"] = "2030-01-01T00:00:00Z"
    assert status_changed(old, moved)
