"""Async client for the etcd v3 JSON gateway, shared by real etcd 3.4+ and `kubeling etcd`.

Why a hand-written client: the gateway is plain HTTP+JSON (base64 bytes, int64 as strings, zero
values omitted), so a small HTTP/1.1 client (`shared/rawhttp.py`) is enough and the same code talks
to both stores. Endpoints are tried in
order and the client sticks to the last one that answered, failing over when a member is down.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubeling.shared.rawhttp import RawHTTPClient, RawHTTPError

log = logging.getLogger("apiserver.storage")


class StoreError(Exception):
    """The store answered with an error (gRPC code + message)."""

    def __init__(self, message: str, code: int = 2, http_status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status

    @property
    def compacted(self) -> bool:
        return "compacted" in str(self)


class StoreUnavailable(StoreError):
    """No listed store member could be reached."""


def b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def prefix_end(prefix: bytes | str) -> bytes:
    """The exclusive range end covering every key that starts with `prefix`."""
    p = bytearray(prefix.encode() if isinstance(prefix, str) else prefix)
    for i in range(len(p) - 1, -1, -1):
        if p[i] < 0xFF:
            p[i] += 1
            return bytes(p[: i + 1])
    return b"\0"


@dataclass
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int

    @classmethod
    def from_json(cls, kv: dict[str, Any]) -> "KeyValue":
        return cls(
            key=unb64(kv.get("key")).decode(),
            value=unb64(kv.get("value")),
            create_revision=int(kv.get("create_revision", 0)),
            mod_revision=int(kv.get("mod_revision", 0)),
            version=int(kv.get("version", 0)),
        )


@dataclass
class WatchEvent:
    """One store change: type is PUT or DELETE; for DELETE `kv.value` is the previous value."""

    type: str
    kv: KeyValue
    prev: KeyValue | None = None


@dataclass
class Compare:
    """A txn guard. target is MOD, VERSION or CREATE; a missing key compares as 0."""

    key: str
    target: str = "MOD"
    value: int = 0
    result: str = "EQUAL"

    def to_json(self) -> dict[str, Any]:
        field_name = {"MOD": "mod_revision", "VERSION": "version", "CREATE": "create_revision"}[self.target]
        return {"key": b64(self.key), "target": self.target, "result": self.result, field_name: str(self.value)}


@dataclass
class TxnResult:
    succeeded: bool
    revision: int
    responses: list[dict[str, Any]] = field(default_factory=list)


def op_put(key: str, value: bytes, lease: int = 0) -> dict[str, Any]:
    req: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        req["lease"] = str(lease)
    return {"request_put": req}


def op_delete(key: str) -> dict[str, Any]:
    return {"request_delete_range": {"key": b64(key)}}


def op_get(key: str) -> dict[str, Any]:
    return {"request_range": {"key": b64(key)}}


@dataclass(frozen=True)
class StoreTLS:
    """kube-apiserver's --etcd-cafile / --etcd-certfile / --etcd-keyfile: how the apiserver proves
    itself to a store that runs with --client-cert-auth, and how it checks the store's certificate."""
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cafile)
        if self.certfile:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx


class EtcdClient:
    """Talks to a list of store endpoints, failing over on connection errors and 5xx/503."""

    def __init__(self, endpoints: list[str], timeout: float = 15.0, tls: StoreTLS | None = None) -> None:
        if not endpoints:
            raise ValueError("at least one store endpoint is required")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self._current = 0
        ctx = tls.context() if tls else None
        # Unary calls and watch streams use separate pools: a watch holds its connection for
        # as long as it runs, and must not count against the connections of the calls.
        self._raw = RawHTTPClient(timeout=timeout, ssl_context=ctx)
        self._watch_http = RawHTTPClient(timeout=None, ssl_context=ctx, max_connections=1000)
        # encryption at rest (storage/encryption.Transformer): values are transformed here and only here
        self.transformer: Any = None

    async def close(self) -> None:
        await self._raw.close()
        await self._watch_http.close()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last: Exception | None = None
        n = len(self.endpoints)
        payload = orjson.dumps(body)
        for attempt in range(n * 2):
            idx = (self._current + attempt) % n
            url = self.endpoints[idx] + path
            try:
                status, content = await self._raw.post(url, payload)
            except RawHTTPError as e:
                last = e
                log.warning("store endpoint failed", extra={"endpoint": self.endpoints[idx], "error": str(e)})
                if attempt + 1 >= n:
                    await asyncio.sleep(0.1)
                continue
            if status in (502, 503) or (status == 500 and b"deadline" in content):
                last = StoreError(content.decode(errors="replace"), 14, status)
                continue
            self._current = idx
            try:
                data = orjson.loads(content) if content else {}
            except orjson.JSONDecodeError:
                raise StoreError(f"the store answered {status} with a body that is not JSON", 2, status) from None
            if status != 200:
                raise StoreError(data.get("message") or data.get("error") or content.decode(errors="replace"),
                                 int(data.get("code", 2)), status)
            return data
        raise StoreUnavailable(f"no store endpoint answered ({last!r})", 14, 503)

    # --- KV -------------------------------------------------------------------------------------
    async def get(self, key: str, revision: int = 0) -> tuple[KeyValue | None, int]:
        body: dict[str, Any] = {"key": b64(key)}
        if revision:
            body["revision"] = str(revision)
        data = await self._post("/v3/kv/range", body)
        kvs = data.get("kvs") or []
        return (self._read(KeyValue.from_json(kvs[0])) if kvs else None), int(data["header"].get("revision", 0))

    async def range(
        self, start: str, end: bytes, limit: int = 0, revision: int = 0, count_only: bool = False
    ) -> tuple[list[KeyValue], bool, int, int]:
        """Returns (kvs, more, count, header revision)."""
        body: dict[str, Any] = {"key": b64(start), "range_end": b64(end)}
        if limit:
            body["limit"] = str(limit)
        if revision:
            body["revision"] = str(revision)
        if count_only:
            body["count_only"] = True
        data = await self._post("/v3/kv/range", body)
        kvs = [self._read(KeyValue.from_json(kv)) for kv in data.get("kvs") or []]
        return kvs, bool(data.get("more")), int(data.get("count", 0)), int(data["header"].get("revision", 0))

    async def current_revision(self) -> int:
        data = await self._post("/v3/kv/range", {"key": b64("/registry/"), "count_only": True, "range_end": b64(prefix_end("/registry/"))})
        return int(data["header"]["revision"])

    def _read(self, kv: KeyValue) -> KeyValue:
        """Decrypt a value read from the store (no-op without --encryption-provider-config)."""
        if self.transformer is not None and kv.value:
            try:
                kv.value = self.transformer.from_storage(kv.key, kv.value)
            except ValueError as e:
                raise StoreError(str(e), 13, 0) from None
        return kv

    def _write_op(self, op: dict[str, Any]) -> dict[str, Any]:
        """Encrypt the value of a txn put before it leaves the apiserver."""
        put = op.get("request_put")
        if self.transformer is None or put is None:
            return op
        key = unb64(put["key"]).decode()
        return {"request_put": {**put, "value": b64(self.transformer.to_storage(key, unb64(put.get("value"))))}}

    async def put(self, key: str, value: bytes) -> int:
        if self.transformer is not None:
            value = self.transformer.to_storage(key, value)
        data = await self._post("/v3/kv/put", {"key": b64(key), "value": b64(value)})
        return int(data["header"]["revision"])

    async def txn(self, compare: list[Compare], success: list[dict[str, Any]], failure: list[dict[str, Any]] | None = None) -> TxnResult:
        data = await self._post(
            "/v3/kv/txn", {"compare": [c.to_json() for c in compare], "success": [self._write_op(o) for o in success],
                           "failure": [self._write_op(o) for o in failure or []]}
        )
        return TxnResult(bool(data.get("succeeded")), int(data["header"].get("revision", 0)), data.get("responses") or [])

    async def lease_grant(self, ttl: int) -> int:
        data = await self._post("/v3/lease/grant", {"TTL": str(ttl)})
        return int(data["ID"])

    async def compact(self, revision: int) -> None:
        await self._post("/v3/kv/compaction", {"revision": str(revision), "physical": True})

    # --- watch ----------------------------------------------------------------------------------
    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[WatchEvent] | int]:
        """Yield batches of events under `prefix` from `start_revision` on.

        Yields an int (the compact revision) and stops if the start revision was compacted.
        Raises StoreUnavailable when the stream breaks, so the caller can resume from the
        last revision it saw (on any endpoint).
        """
        req = {"create_request": {"key": b64(prefix), "range_end": b64(prefix_end(prefix)),
                                  "start_revision": str(start_revision), "prev_kv": True}}
        n = len(self.endpoints)
        last: Exception | None = None
        for attempt in range(n):
            idx = (self._current + attempt) % n
            try:
                async with self._watch_http.stream("POST", self.endpoints[idx] + "/v3/watch", content=orjson.dumps(req),
                                                   headers={"Content-Type": "application/json"}) as resp:
                    if resp.status_code != 200:
                        raise StoreError((await resp.aread()).decode(errors="replace"), 2, resp.status_code)
                    self._current = idx
                    async for line in resp.aiter_lines():
                        if not line.strip():
                            continue
                        msg = json.loads(line)
                        if "error" in msg:
                            raise StoreUnavailable(str(msg["error"]))
                        result = msg.get("result", {})
                        if result.get("canceled"):
                            yield int(result.get("compact_revision", 0))
                            return
                        events = []
                        for ev in result.get("events") or []:
                            prev = ev.get("prev_kv")
                            events.append(WatchEvent(ev.get("type", "PUT"), self._read(KeyValue.from_json(ev["kv"])),
                                                     self._read(KeyValue.from_json(prev)) if prev else None))
                        if events:
                            yield events
                    raise StoreUnavailable("watch stream ended")
            except (RawHTTPError, OSError) as e:
                last = e
                continue
        raise StoreUnavailable(f"watch: no store endpoint answered ({last!r})", 14, 503)
