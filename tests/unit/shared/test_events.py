"""The event recorder is best effort but sturdy: its writer outlives any error, retries a
transient failure a bounded number of times, then drops the event and goes on draining.

The recorder talks through the real `Client`, whose transport (shared/rawhttp.py) is replaced by an in-process
handler, so the test also covers how transport errors (a full connection pool) reach the recorder.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any


from kubeling.shared.client import Client
from kubeling.shared.events import EventRecorder
from kubeling.shared.kubeconfig import ClientConfig
from kubeling.shared import rawhttp
from tests.support.fakehttp import FakeRequest, FakeTransport, json_response

POD = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default", "uid": "u-1"}}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def client_with(handler: Callable[[FakeRequest], rawhttp.Response]) -> Client:
    c = Client(ClientConfig(servers=["http://127.0.0.1:1"]))
    c._http = FakeTransport(handler)
    return c


class Events:
    """An in-memory events endpoint whose next answers can be scripted failures."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.failures: list[BaseException | int] = []  # raised, or answered as that HTTP code
        self.requests = 0

    def __call__(self, req: FakeRequest) -> rawhttp.Response:
        self.requests += 1
        if self.failures:
            f = self.failures.pop(0)
            if isinstance(f, BaseException):
                raise f
            return json_response(f, {"kind": "Status", "code": f, "reason": "Scripted", "message": "scripted"})
        if req.method == "POST":
            ev = json.loads(req.content)
            self.stored[ev["metadata"]["name"]] = ev
            return json_response(201, ev)
        name = req.url.path.rsplit("/", 1)[1]
        if name not in self.stored:
            return json_response(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
        self.stored[name].update(json.loads(req.content))
        return json_response(200, self.stored[name])

    def reasons(self) -> dict[str, int]:
        return {e["reason"]: e["count"] for e in self.stored.values()}


async def drained(rec: EventRecorder) -> None:
    assert rec._pending is not None
    await asyncio.wait_for(rec._pending.join(), 10)


def test_writer_retries_a_full_pool_and_records_the_event():
    api = Events()
    api.failures = [rawhttp.PoolTimeout("pool"), rawhttp.ConnectTimeout("connect"), 503]

    async def main() -> None:
        rec = EventRecorder(client_with(api), "kubelet", retry_base=0.001)
        rec.event(POD, "Normal", "Pulled", "pulled")
        await drained(rec)
        assert api.reasons() == {"Pulled": 1}
        assert (rec.recorded, rec.dropped) == (1, 0)
    run(main())


def test_writer_survives_exhausted_retries_and_unexpected_errors():
    api = Events()
    api.failures = [rawhttp.PoolTimeout("pool")] * 3 + [RuntimeError("a bug in the transport")]

    async def main() -> None:
        rec = EventRecorder(client_with(api), "kubelet", max_tries=3, retry_base=0.001)
        rec.event(POD, "Normal", "Given-up", "three transient failures")
        rec.event(POD, "Normal", "Crashed", "an unexpected exception")
        rec.event(POD, "Normal", "Started", "started")
        rec.event(POD, "Normal", "Started", "started")
        await drained(rec)
        assert api.reasons() == {"Started": 2}  # the writer kept draining; the repeat was counted
        assert (rec.recorded, rec.dropped) == (2, 2)
        assert rec._worker is not None and not rec._worker.done()
    run(main())


def test_rejected_event_is_dropped_at_once_and_a_vanished_one_is_created_again():
    api = Events()

    async def main() -> None:
        rec = EventRecorder(client_with(api), "kubelet", retry_base=0.001)
        api.failures = [422]
        rec.event(POD, "Warning", "Invalid", "rejected")
        rec.event(POD, "Normal", "Pulling", "pulling")
        await drained(rec)
        assert api.requests == 2 and rec.dropped == 1
        api.stored.clear()  # the Event expired (TTL) while the recorder still counts it
        rec.event(POD, "Normal", "Pulling", "pulling")
        await drained(rec)
        assert api.reasons() == {"Pulling": 1}
        assert rec.dropped == 1
    run(main())


def test_event_never_raises_when_the_queue_is_full():
    api = Events()

    async def main() -> None:
        rec = EventRecorder(client_with(api), "kubelet")
        rec._pending = asyncio.Queue(maxsize=1)
        rec.event(POD, "Normal", "A", "a")
        rec.event(POD, "Normal", "B", "b")  # full: dropped, not raised
        assert rec.dropped == 1
        await drained(rec)
        assert api.reasons() == {"A": 1}
    run(main())
