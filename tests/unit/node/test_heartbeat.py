"""Node heartbeats outlive any failure: the Lease loop retries (with back-off, not a whole
period later) after transport errors, error answers and unexpected exceptions, and renews the
Lease with a PUT of the copy it last wrote, reading it again only after a conflict."""
from __future__ import annotations

import asyncio
import json
from typing import Any


from kubeling.services.node.kubelet.nodestatus import NodeStatusManager
from kubeling.shared.client import Client
from kubeling.shared.kubeconfig import ClientConfig
from kubeling.shared import rawhttp
from tests.support.fakehttp import FakeRequest, FakeTransport, json_response


class Leases:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 1
        self.failures: list[BaseException | int] = []
        self.methods: list[str] = []

    def __call__(self, req: FakeRequest) -> rawhttp.Response:
        if "/leases" not in req.url.path:
            return json_response(200, {"kind": "Node", "metadata": {"name": "n1"}, "status": {}})
        self.methods.append(req.method)
        if self.failures:
            f = self.failures.pop(0)
            if isinstance(f, BaseException):
                raise f
            return json_response(f, {"kind": "Status", "code": f, "reason": "Scripted"})
        if req.method == "GET":
            return json_response(200, self.lease) if self.lease else json_response(404, {"code": 404})
        body = json.loads(req.content)
        if req.method == "PUT" and body["metadata"].get("resourceVersion") != str(self.rv):
            return json_response(409, {"kind": "Status", "code": 409, "reason": "Conflict"})
        self.rv += 1
        body["metadata"]["resourceVersion"] = str(self.rv)
        self.lease = body
        return json_response(201 if req.method == "POST" else 200, body)


def test_lease_loop_survives_errors_and_renews_without_reading():
    api = Leases()
    c = Client(ClientConfig(servers=["http://127.0.0.1:1"]))
    c._http = FakeTransport(api)
    nsm = NodeStatusManager(c, "n1", "127.0.0.1", 10250, "1", "1Gi", 10, {}, [], None, update_period=0.01)

    async def main() -> None:
        task = asyncio.create_task(nsm._loop("lease", nsm.renew_lease))
        try:
            async def renewed(n: int) -> None:
                while nsm.heartbeats < n:
                    await asyncio.sleep(0.005)
            await asyncio.wait_for(renewed(2), 10)  # created, then renewed
            api.failures = [rawhttp.PoolTimeout("pool"), 500, RuntimeError("surprise")]
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
