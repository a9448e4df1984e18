"""Work queue, informer, leader election and client failover, driven in-process.

The informer and elector tests use a small in-memory API (below) with the apiserver's
semantics that matter to them: resourceVersions, 409 on a stale update, 410 on an expired watch.
The client test talks HTTP to a real listener on loopback.
"""
from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from kubeling.shared import kubeconfig
from kubeling.shared.client import LEASES, PODS, ApiError, Client
from kubeling.shared.httpserver import HTTPServer, Request, Response
from kubeling.shared.informer import Handlers, Informer
from kubeling.shared.leaderelection import LeaderElector
from kubeling.shared.workqueue import ItemExponentialRateLimiter, ShutDown, WorkQueue
from tests.support.procs import free_port


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


# -- work queue -------------------------------------------------------------------------------

def test_queue_dedups_and_requeues_key_added_while_processing():
    async def go():
        q = WorkQueue()
        q.add("ns/a")
        q.add("ns/a")
        q.add("ns/b")
        assert len(q) == 2
        k = await q.get()
        assert k == "ns/a"
        q.add("ns/a")  # dirty while processing: not handed to a second worker
        assert await q.get() == "ns/b"
        assert len(q) == 0
        q.done("ns/a")  # now it comes back
        assert await q.get() == "ns/a"
        q.done("ns/a")
        q.done("ns/b")
        q.shutdown()
        with pytest.raises(ShutDown):
            await q.get()
    run(go())


def test_rate_limiter_is_exponential_per_item_and_forget_resets():
    rl = ItemExponentialRateLimiter(base=0.01, max_delay=0.05)
    assert [rl.when("a") for _ in range(4)] == [0.01, 0.02, 0.04, 0.05]
    assert rl.when("b") == 0.01 and rl.num_requeues("a") == 4
    rl.forget("a")
    assert rl.when("a") == 0.01


def test_add_after_delivers_in_deadline_order():
    async def go():
        q = WorkQueue()
        q.add_after("late", 0.3)
        q.add_after("early", 0.05)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await q.get() == "early"
        assert await q.get() == "late"
        assert loop.time() - t0 >= 0.29
    run(go())


# -- an in-memory API for informers and leader election ---------------------------------------

class FakeApi:
    def __init__(self) -> None:
        self.rev = 0
        self.objs: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.compacted = 0
        self.watchers: list[asyncio.Queue] = []

    def _put(self, typ: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.rev += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rev)
        md = obj["metadata"]
        if typ == "DELETED":
            self.objs.pop((md.get("namespace", ""), md["name"]), None)
        else:
            self.objs[(md.get("namespace", ""), md["name"])] = obj
        self.events.append((self.rev, typ, obj))
        for w in self.watchers:
            w.put_nowait((typ, copy.deepcopy(obj)))
        return copy.deepcopy(obj)

    # Client surface used by Informer and LeaderElector
    async def list(self, res, namespace=None, **kw):
        return {"metadata": {"resourceVersion": str(self.rev)}, "items": [copy.deepcopy(o) for o in self.objs.values()]}

    async def watch(self, res, namespace=None, *, resource_version=None, **kw):
        if resource_version and int(resource_version) < self.compacted:
            yield "ERROR", {"kind": "Status", "code": 410, "reason": "Expired"}
            return
        q: asyncio.Queue = asyncio.Queue()
        for rev, typ, obj in self.events:
            if rev > int(resource_version or 0):
                q.put_nowait((typ, copy.deepcopy(obj)))
        self.watchers.append(q)
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            if q in self.watchers:
                self.watchers.remove(q)

    def end_watches(self) -> None:
        for w in self.watchers:
            w.put_nowait(None)

    async def get(self, res, name, namespace=None):
        o = self.objs.get((namespace or "", name))
        if o is None:
            raise ApiError(404, {"reason": "NotFound"})
        return copy.deepcopy(o)

    async def create(self, res, obj, namespace=None):
        md = obj["metadata"]
        if (md.get("namespace", ""), md["name"]) in self.objs:
            raise ApiError(409, {"reason": "AlreadyExists"})
        return self._put("ADDED", obj)

    async def update(self, res, obj, subresource=None):
        md = obj["metadata"]
        cur = self.objs.get((md.get("namespace", ""), md["name"]))
        if cur is None:
            raise ApiError(404, {"reason": "NotFound"})
        if md.get("resourceVersion") != cur["metadata"]["resourceVersion"]:
            raise ApiError(409, {"reason": "Conflict"})
        return self._put("MODIFIED", obj)


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "labels": labels}}


async def until(cond, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def test_informer_lists_watches_and_relists_after_410():
    async def go():
        api = FakeApi()
        api._put("ADDED", pod("a"))
        api._put("ADDED", pod("gone"))
        seen: list[tuple[str, str]] = []
        inf = Informer(api, PODS)  # type: ignore[arg-type]
        inf.add_handlers(Handlers(on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
                                  on_update=lambda a, b: seen.append(("update", b["metadata"]["name"])),
                                  on_delete=lambda o: seen.append(("delete", o["metadata"]["name"]))))
        inf.start()
        assert await inf.wait_synced(5)
        assert set(inf.store) == {"default/a", "default/gone"}
        api._put("ADDED", pod("b"))
        api._put("MODIFIED", pod("a", v="2"))
        await until(lambda: ("update", "a") in seen and "default/b" in inf.store)
        # While the informer is not watching, objects change and history is compacted: it must relist
        # and report the differences (one deleted, one new) from the fresh list.
        open_watches, api.watchers = api.watchers, []  # the open watch misses these two events
        api._put("DELETED", pod("gone"))
        api._put("ADDED", pod("c"))
        api.compacted = api.rev  # history before now is gone: resuming from the old version gets 410
        for w in open_watches:
            w.put_nowait(None)
        await until(lambda: inf.relists >= 1 and "default/c" in inf.store and "default/gone" not in inf.store)
        assert ("delete", "gone") in seen and ("add", "c") in seen
        assert inf.store["default/a"]["metadata"]["labels"] == {"v": "2"}
        await inf.stop()
    run(go())


def test_leader_election_one_leader_transitions_counted():
    async def go():
        api = FakeApi()
        t = [0.0]
        clock = lambda: t[0]  # noqa: E731
        a = LeaderElector(api, "sched", "a", clock=clock)  # type: ignore[arg-type]
        b = LeaderElector(api, "sched", "b", clock=clock)  # type: ignore[arg-type]
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()  # a's lease is fresh by b's clock
        t[0] += 10
        assert await a.try_acquire_or_renew()  # renew
        t[0] += 1
        assert not await b.try_acquire_or_renew()  # b observes the renewal now (t=11)
        t[0] += 14
        assert not await b.try_acquire_or_renew()  # 14s since b saw it change: not expired yet
        t[0] += 2
        assert await b.try_acquire_or_renew()  # a stopped renewing: b takes over after 15s
        lease = await api.get(LEASES, "sched", "kube-system")
        assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] == 1
        assert lease["spec"]["leaseDurationSeconds"] == 15
        assert not await a.try_acquire_or_renew()  # the old leader finds itself replaced
        assert not a.is_leader() and b.is_leader()
    run(go())


# -- the HTTP client against a real listener --------------------------------------------------

def test_client_fails_over_and_decodes_status_and_watch():
    async def go():
        async def handler(req: Request) -> Response:
            if req.query.get("watch"):
                lines = [{"type": "ADDED", "object": pod("w")}, {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}]
                return Response(200, "".join(json.dumps(x) + "\n" for x in lines).encode(), "application/json")
            if req.path.endswith("/pods/missing"):
                body = {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'pods "missing" not found'}
                return Response(404, json.dumps(body).encode(), "application/json")
            if req.method == "POST" and req.path.endswith("/binding"):
                return Response(201, json.dumps({"kind": "Status", "status": "Success", "got": json.loads(await req.read_body())}).encode())
            return Response(200, json.dumps({"path": req.path, "ct": req.headers.get("content-type")}).encode(), "application/json")

        srv = await HTTPServer(handler, "127.0.0.1", 0).start()
        dead = free_port()
        cli = Client(kubeconfig.ClientConfig(servers=[f"http://127.0.0.1:{dead}", f"http://127.0.0.1:{srv.port}"]))
        try:
            got = await cli.get(PODS, "x", "default")
            assert got["path"] == "/api/v1/namespaces/default/pods/x" and cli.server.endswith(str(srv.port))
            with pytest.raises(ApiError) as e:
                await cli.get(PODS, "missing", "default")
            assert e.value.code == 404 and e.value.reason == "NotFound"
            p = await cli.patch(PODS, "x", {"a": 1}, "default", patch_type="strategic", subresource="status")
            assert p == {"path": "/api/v1/namespaces/default/pods/x/status", "ct": "application/strategic-merge-patch+json"}
            b = await cli.bind("default", "x", "node-1")
            assert b["got"]["target"] == {"apiVersion": "v1", "kind": "Node", "name": "node-1"}
            events = [e async for e in cli.watch(PODS, "default", resource_version="1")]
            assert [t for t, _ in events] == ["ADDED", "BOOKMARK"]
        finally:
            await cli.aclose()
            await srv.close()
    run(go())
