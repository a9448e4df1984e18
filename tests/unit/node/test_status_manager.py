"""The kubelet's status manager: a pod status is sent until the apiserver has it, the latest
one wins, the periodic reconcile re-sends a status the apiserver lost, conflicts re-read the
pod, and writes in flight are bounded.

The manager talks through the real `Client`; only its transport (shared/rawhttp.py) is replaced by an
in-process pods/status endpoint whose next answers can be scripted failures.
"""
from __future__ import annotations

import asyncio
import copy
import json
from typing import Any


from kubeling.services.node.kubelet.status import StatusManager, status_digest
from kubeling.shared.client import Client
from kubeling.shared.kubeconfig import ClientConfig
from kubeling.shared import rawhttp
from tests.support.fakehttp import FakeRequest, FakeTransport, json_response

Obj = dict[str, Any]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def pod(name: str, uid: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": uid}}


def running(ip: str = "10.0.0.5") -> Obj:
    return {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": True, "started": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}


class Pods:
    """The pods the fake apiserver holds, by name, with resourceVersions and scripted failures."""

    def __init__(self) -> None:
        self.pods: dict[str, Obj] = {}
        self.rv = 100
        self.failures: list[BaseException | int] = []
        self.patches = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None  # when set up, patches wait for it

    def add(self, name: str, uid: str) -> None:
        self.rv += 1
        self.pods[name] = {**pod(name, uid), "status": {"phase": "Pending"}}
        self.pods[name]["metadata"]["resourceVersion"] = str(self.rv)

    def cached(self, ns: str, name: str) -> Obj | None:
        p = self.pods.get(name)
        return copy.deepcopy(p) if p else None

    async def __call__(self, req: FakeRequest) -> rawhttp.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.failures:
                f = self.failures.pop(0)
                if isinstance(f, BaseException):
                    raise f
                return json_response(f, {"kind": "Status", "code": f, "reason": "Scripted"})
            parts = req.url.path.split("/")  # /api/v1/namespaces/default/pods/<name>[/status]
            name = parts[6]
            if name not in self.pods:
                return json_response(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            if req.method == "GET":
                return json_response(200, self.pods[name])
            self.patches += 1
            self.rv += 1
            self.pods[name]["status"] = json.loads(req.content)["status"]
            self.pods[name]["metadata"]["resourceVersion"] = str(self.rv)
            return json_response(200, self.pods[name])
        finally:
            self.in_flight -= 1


def manager(api: Pods, **kw: Any) -> StatusManager:
    c = Client(ClientConfig(servers=["http://127.0.0.1:1"]))
    c._http = FakeTransport(api)
    kw.setdefault("backoff_base", 0.001)
    kw.setdefault("resync", 3600)
    return StatusManager(c, api.cached, **kw)


async def until(cond, what: str, timeout: float = 10) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)
    try:
        await asyncio.wait_for(poll(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def test_a_status_is_retried_until_the_apiserver_has_it():
    api = Pods()
    api.add("web", "u1")
    api.failures = [rawhttp.PoolTimeout("pool"), rawhttp.ConnectTimeout("connect"), 503, 429, rawhttp.ReadTimeout("read")]

    async def main() -> None:
        sm = manager(api)
        sm.start()
        sm.set(pod("web", "u1"), running())
        await until(lambda: sm.has_latest("u1"), "status acknowledged")
        assert api.pods["web"]["status"] == running()
        assert sm.failures == 5 and sm.sent == 1 and sm.pending() == 0
        await sm.stop()
    run(main())


def test_the_latest_status_wins_and_each_change_is_sent():
    api = Pods()
    api.add("web", "u1")

    async def main() -> None:
        sm = manager(api, workers=1)
        api.gate = asyncio.Event()
        sm.start()
        sm.set(pod("web", "u1"), {"phase": "Pending"})
        await until(lambda: api.in_flight == 1, "first write in flight")
        sm.set(pod("web", "u1"), running("10.0.0.1"))
        sm.set(pod("web", "u1"), running("10.0.0.2"))  # supersedes the one before, never sent
        assert sm.pending() == 1
        api.gate.set()
        await until(lambda: sm.has_latest("u1"), "latest status acknowledged")
        assert api.pods["web"]["status"]["podIP"] == "10.0.0.2"
        assert api.patches == 2
        await sm.stop()
    run(main())


def test_reconcile_resends_a_status_the_apiserver_lost():
    api = Pods()
    api.add("web", "u1")

    async def main() -> None:
        sm = manager(api)
        sm.start()
        sm.set(pod("web", "u1"), running())
        await until(lambda: sm.has_latest("u1"), "status acknowledged")
        assert sm.reconcile() == 0  # the apiserver's copy matches
        # somebody overwrites the status (e.g. a restore): newer resourceVersion, other content
        api.rv += 1
        api.pods["web"]["status"] = {"phase": "Pending"}
        api.pods["web"]["metadata"]["resourceVersion"] = str(api.rv)
        assert sm.reconcile() == 1
        await until(lambda: api.pods["web"]["status"] == running(), "status sent again")
        assert sm.resent == 1
        await sm.stop()
    run(main())


def test_reconcile_ignores_a_cache_older_than_our_own_write():
    api = Pods()
    api.add("web", "u1")
    stale = api.cached("default", "web")

    async def main() -> None:
        sm = manager(api)
        sm.api_pod = lambda ns, name: stale  # the informer has not seen our write yet
        sm.start()
        sm.set(pod("web", "u1"), running())
        await until(lambda: sm.has_latest("u1"), "status acknowledged")
        assert sm.reconcile() == 0 and api.patches == 1
        await sm.stop()
    run(main())


def test_a_deleted_or_replaced_pod_is_forgotten_and_a_conflict_rereads():
    api = Pods()
    api.add("gone", "u-gone")
    api.add("same", "u-same")
    api.add("replaced", "u-new")

    async def main() -> None:
        sm = manager(api)
        sm.api_pod = lambda ns, name: None  # nothing cached: the manager must find out by itself
        del api.pods["gone"]
        sm.start()
        api.failures = [409]
        sm.set(pod("same", "u-same"), running())
        await until(lambda: sm.has_latest("u-same"), "status sent after the conflict")
        sm.set(pod("gone", "u-gone"), running())
        await until(lambda: "u-gone" not in sm._desired, "404 forgets the pod")
        api.failures = [409]
        sm.set(pod("replaced", "u-old"), running())
        await until(lambda: "u-old" not in sm._desired, "a pod of the same name with another UID")
        assert api.pods["replaced"]["status"] == {"phase": "Pending"}  # never overwritten
        await sm.stop()
    run(main())


def test_writes_in_flight_are_bounded_by_the_workers():
    api = Pods()
    for i in range(20):
        api.add(f"p{i}", f"u{i}")

    async def main() -> None:
        sm = manager(api, workers=3)
        api.gate = asyncio.Event()
        sm.start()
        for i in range(20):
            sm.set(pod(f"p{i}", f"u{i}"), running(f"10.0.0.{i}"))
        await until(lambda: api.in_flight == 3, "three writes in flight")
        api.gate.set()
        await until(lambda: sm.pending() == 0, "all sent")
        assert api.max_in_flight == 3
        assert all(api.pods[f"p{i}"]["status"]["podIP"] == f"10.0.0.{i}" for i in range(20))
        await sm.stop()
    run(main())


def test_digest_ignores_timestamps_but_not_state():
    a = running()
    b = copy.deepcopy(a)
    b["containerStatuses"][0]["state"]["running"]["startedAt"] = "2030-01-01T00:00:00Z"
    assert status_digest(a) == status_digest(b)
    b["containerStatuses"][0]["ready"] = False
    assert status_digest(a) != status_digest(b)
