"""Node heartbeats outlive any failure: the Lease loop retries (with back-off, not a whole
period later) after transport errors, error answers and unexpected exceptions, and renews the
Lease with a PUT of the copy it last wrote, reading it again only after a conflict."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from kubeling.services.node.kubelet.nodestatus import NodeStatusManager
from kubeling.shared.client import Client
from kubeling.shared.kubeconfig import ClientConfig


class Leases:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 1
        self.failures: list[BaseException | int] = []
        self.methods: list[str] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        if "/leases" not in req.url.path:
            return httpx.Response(200, json={"kind": "Node", "metadata": {"name": "n1"}, "status": {}})
        self.methods.append(req.method)
        if self.failures:
            f = self.failures.pop(0)
            if isinstance(f, BaseException):
                raise f
            return httpx.Response(f, json={"kind": "Status", "code": f, "reason": "Scripted"})
        if req.method == "GET":
            return httpx.Response(200, json=self.lease) if self.lease else httpx.Response(404, json={"code": 404})
        body = json.loads(req.content)
        if req.method == "PUT" and body["metadata"].get("resourceVersion") != str(self.rv):
            return httpx.Response(409, json={"kind": "Status", "code": 409, "reason": "Conflict"})
        self.rv += 1
        body["metadata"]["resourceVersion"] = str(self.rv)
        self.lease = body
        return httpx.Response(201 if req.method == "POST" else 200, json=body)


def test_lease_loop_survives_errors_and_renews_without_reading():
    api = Leases()
    c = Client(ClientConfig(servers=["http://127.0.0.1:1"]))
    c._http = httpx.AsyncClient(transport=httpx.MockTransport(api))
    nsm = NodeStatusManager(c, "n1", "127.0.0.1", 10250, "1", "1Gi", 10, {}, [], None, update_period=0.01)

    async def main() -> None:
        task = asyncio.create_task(nsm._loop("lease", nsm.renew_lease))
        try:
            async def renewed(n: int) -> None:
                while nsm.heartbeats < n:
                    await asyncio.sleep(0.005)
            await asyncio.wait_for(renewed(2), 10)  # created, then renewed
            api.failures = [httpx.PoolTimeout("pool"), 500, RuntimeError("surprise")]
            api.lease["metadata"]["resourceVersion"] = "999"  # written by someone else meanwhile
            api.rv = 999
            before = nsm.heartbeats
            await asyncio.wait_for(renewed(before + 3), 10)
            assert nsm.heartbeat_failures >= 4  # three scripted failures and the conflict
            assert not task.done()
        finally:
            task.cancel()

    asyncio.run(main())
    assert api.methods[:3] == ["GET", "POST", "PUT"]  # no GET before a normal renewal
    assert "GET" in api.methods[3:]  # read again after the conflict
