"""The client API: etcd v3's JSON gateway, served as a plain ASGI app.

Each handler decodes and checks its request on the member that received it, proposes writes
through Raft (any member: pysyncobj forwards to the leader), and answers with etcd's JSON shapes
and error bodies. Reads are linearizable by default (a Raft barrier, then the local store) and
served locally with `serializable: true`.

It is a bare ASGI callable rather than a framework app: this is the hottest path of the whole
cluster and the routing is a dict lookup.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from . import codec, errors, validate
from .codec import get_int, parse_json
from .errors import EtcdError
from .mvcc import KV
from .server import EtcdServer
from .watch import WatchStream

log = logging.getLogger("etcd.gateway")

ETCD_VERSION = "3.4.23"
CLUSTER_VERSION = "3.4.0"

Handler = Callable[[EtcdServer, dict], Awaitable[dict]]


# ---------------------------------------------------------------- encoding helpers

def range_json(s: EtcdServer, r: dict, sub: bool = False) -> dict:
    out: dict[str, Any] = {"header": {"revision": str(r["rev"])} if sub else s.header(r["rev"])}
    if r["kvs"]:
        out["kvs"] = [codec.kv_json(kv, r["keys_only"]) for kv in r["kvs"]]
    if r["more"]:
        out["more"] = True
    if r["count"]:
        out["count"] = str(r["count"])
    return out


def _prev(out: dict, prev: KV | None) -> dict:
    if prev is not None:
        out["prev_kv"] = codec.kv_json(prev)
    return out


def delete_json(s: EtcdServer, r: dict, sub: bool = False) -> dict:
    out: dict[str, Any] = {"header": {"revision": str(r["rev"])} if sub else s.header(r["rev"])}
    if r["deleted"]:
        out["deleted"] = str(r["deleted"])
    if r["prev_kvs"]:
        out["prev_kvs"] = [codec.kv_json(kv) for kv in r["prev_kvs"]]
    return out


def txn_json(s: EtcdServer, r: dict, rev: int | None) -> dict:
    out: dict[str, Any] = {"header": s.header(rev) if rev is not None else {}}
    if r["succeeded"]:
        out["succeeded"] = True
    responses = []
    for kind, sub in r["responses"]:
        if kind == "range":
            responses.append({"response_range": range_json(s, sub, sub=True)})
        elif kind == "put":
            responses.append({"response_put": _prev({"header": {"revision": str(sub["rev"])}}, sub["prev_kv"])})
        elif kind == "delete":
            responses.append({"response_delete_range": delete_json(s, sub, sub=True)})
        elif kind == "txn":
            responses.append({"response_txn": txn_json(s, sub, None)})
        else:
            responses.append({})
    if responses:
        out["responses"] = responses
    return out


def _raise_if_error(result: Any) -> Any:
    if isinstance(result, EtcdError):
        raise result
    return result


# ---------------------------------------------------------------- KV

async def kv_range(s: EtcdServer, body: dict) -> dict:
    req = codec.decode_range(body)
    validate.check_range(req)
    if not req["serializable"]:
        await s.proposer.barrier()
    with s.sm.lock:
        r = s.sm.store.range(req)
    return range_json(s, r)


async def kv_put(s: EtcdServer, body: dict) -> dict:
    req = codec.decode_put(body)
    validate.check_put(req)
    r = _raise_if_error(await s.proposer.propose("put", req))
    return _prev({"header": s.header(r["rev"])}, r["prev_kv"])


async def kv_delete(s: EtcdServer, body: dict) -> dict:
    req = codec.decode_delete(body)
    validate.check_delete(req)
    r = _raise_if_error(await s.proposer.propose("delete", req))
    return delete_json(s, r)


async def kv_txn(s: EtcdServer, body: dict) -> dict:
    req = codec.decode_txn(body)
    validate.check_txn_request(req, s.max_txn_ops)
    r = _raise_if_error(await s.proposer.propose("txn", req))
    return txn_json(s, r, r["rev"])


async def kv_compact(s: EtcdServer, body: dict) -> dict:
    rev = get_int(body, "revision")
    r = _raise_if_error(await s.proposer.propose("compact", rev))
    return {"header": s.header(r["rev"])}


# ---------------------------------------------------------------- leases

async def lease_grant(s: EtcdServer, body: dict) -> dict:
    ttl = get_int(body, "TTL")
    lease_id = get_int(body, "ID")
    if ttl > 9_000_000_000:
        raise errors.LEASE_TTL_TOO_LARGE
    ttl = max(ttl, s.min_lease_ttl)
    r = _raise_if_error(await s.proposer.propose("lease_grant", (lease_id, ttl, time.time(), s.lease_id_prefix)))
    return {"header": s.header(r["rev"]), "ID": str(r["id"]), "TTL": str(r["ttl"])}


async def lease_revoke(s: EtcdServer, body: dict) -> dict:
    r = _raise_if_error(await s.proposer.propose("lease_revoke", get_int(body, "ID")))
    return {"header": s.header(r["rev"])}


async def lease_timetolive(s: EtcdServer, body: dict) -> dict:
    lease_id = get_int(body, "ID")
    want_keys = codec.get_bool(body, "keys")
    await s.proposer.barrier()
    with s.sm.lock:
        lease = s.sm.store.leases.get(lease_id)
        rev = s.sm.store.rev
        if lease is None:
            return {"header": s.header(rev), "ID": str(lease_id), "TTL": "-1"}
        remaining = int(max(0.0, lease.expiry - time.time()))
        out: dict[str, Any] = {"header": s.header(rev), "ID": str(lease_id)}
        if remaining:
            out["TTL"] = str(remaining)
        out["grantedTTL"] = str(lease.ttl)
        if want_keys and lease.keys:
            out["keys"] = [codec.b64(k) for k in sorted(lease.keys)]
    return out


async def lease_leases(s: EtcdServer, body: dict) -> dict:
    await s.proposer.barrier()
    with s.sm.lock:
        ids = sorted(s.sm.store.leases)
        rev = s.sm.store.rev
    out: dict[str, Any] = {"header": s.header(rev)}
    if ids:
        out["leases"] = [{"ID": str(i)} for i in ids]
    return out


async def lease_keepalive_one(s: EtcdServer, body: dict) -> dict:
    lease_id = get_int(body, "ID")
    r = _raise_if_error(await s.proposer.propose("lease_renew", (lease_id, time.time())))
    out: dict[str, Any] = {"header": s.header(r["rev"]), "ID": str(lease_id)}
    if r["ttl"]:
        out["TTL"] = str(r["ttl"])
    return out


# ---------------------------------------------------------------- cluster / maintenance

async def member_list(s: EtcdServer, body: dict) -> dict:
    with s.sm.lock:
        published = dict(s.sm.store.client_urls)
    members = []
    for name, m in sorted(s.cluster.members.items(), key=lambda kv: s.cluster.ids[kv[0]]):
        entry: dict[str, Any] = {"ID": str(s.cluster.ids[name]), "name": name, "peerURLs": list(m.peer_urls)}
        urls = published.get(name) or (list(s.client_urls) if name == s.cluster.self_name else [])
        if urls:
            entry["clientURLs"] = urls
        members.append(entry)
    return {"header": s.header(None), "members": members}


async def maintenance_status(s: EtcdServer, body: dict) -> dict:
    st = s.node.status()
    with s.sm.lock:
        rev = s.sm.store.rev
    size = s.node.db_size()
    out: dict[str, Any] = {"header": s.header(rev), "version": ETCD_VERSION, "dbSize": str(size)}
    leader = s.node.leader_id()
    if leader:
        out["leader"] = str(leader)
    for field, key in (("raftIndex", "commit_idx"), ("raftTerm", "raft_term"), ("raftAppliedIndex", "last_applied")):
        if st.get(key):
            out[field] = str(st[key])
    if size:
        out["dbSizeInUse"] = str(size)
    if not leader:
        out["errors"] = ["etcdserver: no leader"]
    return out


async def maintenance_alarm(s: EtcdServer, body: dict) -> dict:
    return {}  # kubeling raises no alarms (no backend quota): etcd answers an empty list as {}


async def maintenance_defragment(s: EtcdServer, body: dict) -> dict:
    return {"header": s.header(None)}


UNARY: dict[str, Handler] = {
    "/kv/range": kv_range,
    "/kv/put": kv_put,
    "/kv/deleterange": kv_delete,
    "/kv/txn": kv_txn,
    "/kv/compaction": kv_compact,
    "/lease/grant": lease_grant,
    "/lease/revoke": lease_revoke,
    "/kv/lease/revoke": lease_revoke,
    "/lease/timetolive": lease_timetolive,
    "/kv/lease/timetolive": lease_timetolive,
    "/lease/leases": lease_leases,
    "/kv/lease/leases": lease_leases,
    "/cluster/member/list": member_list,
    "/maintenance/status": maintenance_status,
    "/maintenance/alarm": maintenance_alarm,
    "/maintenance/defragment": maintenance_defragment,
}
STREAMING = {"/watch", "/lease/keepalive"}
WRITES = {"/kv/put", "/kv/deleterange", "/kv/txn", "/kv/compaction", "/lease/grant"}


# ---------------------------------------------------------------- ASGI plumbing

JSON_HEADERS = [(b"content-type", b"application/json"), (b"grpc-metadata-content-type", b"application/grpc")]


async def _send_bytes(send, status: int, body: bytes, headers: list | None = None) -> None:
    hdrs = list(headers if headers is not None else JSON_HEADERS)
    hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def _send_text(send, status: int, text: str) -> None:
    await _send_bytes(send, status, text.encode(), [(b"content-type", b"text/plain; charset=utf-8"),
                                                    (b"x-content-type-options", b"nosniff")])


async def _send_error(send, err: EtcdError) -> None:
    await _send_bytes(send, err.http_status, codec.dumps(err.body()))


class BodyTooLarge(Exception):
    """A body over the limit; `size` is what had arrived when it was refused."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


async def _read_body(receive, limit: int) -> bytes:
    chunks = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise ConnectionResetError("client went away")
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
        if not msg.get("more_body"):
            return b"".join(chunks)


def make_metrics_app(s: EtcdServer):
    """The app of `--listen-metrics-urls`: only the plain endpoints (/health, /livez, /readyz,
    /metrics, /version), never the KV API, so it can be plain HTTP without client certificates
    while the client URLs require them. kubeadm's etcd probes use it (http://127.0.0.1:2381/health)."""
    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        await serve_plain(s, scope["path"], send)

    return app


def make_app(s: EtcdServer):
    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/v3/") or path.startswith("/v3beta/"):
            sub = path[path.index("/", 1):]
            if sub not in UNARY and sub not in STREAMING:
                await _send_text(send, 404, "Not Found\n")
                return
            if method != "POST":
                await _send_text(send, 405, "Method Not Allowed\n")
                return
            s.metrics.requests.labels(sub).inc()
            if sub == "/watch":
                await serve_watch(s, receive, send)
            elif sub == "/lease/keepalive":
                await serve_keepalive(s, receive, send)
            else:
                await serve_unary(s, sub, receive, send)
            return
        await serve_plain(s, path, send)

    return app


async def serve_unary(s: EtcdServer, sub: str, receive, send) -> None:
    try:
        body = await _read_body(receive, s.body_limit)
    except BodyTooLarge as e:
        # etcd's gRPC server refuses a message over --max-request-bytes plus its 512 KiB overhead
        # (grpc.MaxRecvMsgSize in embed/serve.go) before etcd sees it: ResourceExhausted, 429.
        await _send_error(send, EtcdError(
            f"grpc: received message larger than max ({e.size * 3 // 4} vs. {s.max_grpc_message_bytes})",
            errors.RESOURCE_EXHAUSTED))
        return
    except ConnectionResetError:
        return
    try:
        if sub in WRITES and len(body) * 3 // 4 > s.max_request_bytes:
            raise errors.REQUEST_TOO_LARGE
        resp = await UNARY[sub](s, parse_json(body))
    except EtcdError as e:
        s.metrics.errors.labels(sub, str(e.code)).inc()
        await _send_error(send, e)
        return
    except Exception:
        log.exception("request failed", extra={"path": sub})
        await _send_error(send, EtcdError("etcdserver: internal error", errors.INTERNAL))
        return
    await _send_bytes(send, 200, codec.dumps(resp))


class _StreamBody:
    """Incrementally splits a streamed request body into the JSON objects concatenated in it."""

    def __init__(self) -> None:
        self.buf = ""
        self.decoder = json.JSONDecoder()

    def feed(self, chunk: bytes) -> list[Any]:
        self.buf += chunk.decode("utf-8", errors="replace")
        out = []
        while True:
            text = self.buf.lstrip()
            if not text:
                self.buf = ""
                return out
            try:
                obj, end = self.decoder.raw_decode(text)
            except json.JSONDecodeError as e:
                if e.pos >= len(text.rstrip()) or "Unterminated" in e.msg:
                    self.buf = text  # incomplete object: wait for more bytes
                    return out
                raise EtcdError(codec.go_json_error(text.encode(), e), errors.UNKNOWN) from None
            out.append(obj)
            self.buf = text[end:]

    def finish(self) -> None:
        if self.buf.strip():
            raise EtcdError("unexpected EOF", errors.UNKNOWN)


async def serve_watch(s: EtcdServer, receive, send) -> None:
    """Read watch requests as they arrive, write response lines as they are produced, stop when
    the client goes away. A malformed body before anything was sent is answered like etcd's
    gateway: HTTP 500, code 2."""
    stream = WatchStream(s.hub)
    started = False
    gone = asyncio.Event()
    failure: list[EtcdError] = []

    async def reader() -> None:
        parser = _StreamBody()
        try:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    break
                for obj in parser.feed(msg.get("body", b"")):
                    stream.handle(obj)
                if not msg.get("more_body"):
                    parser.finish()
                    # The stream stays open after the body ends, as etcd's does.
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    break
        except EtcdError as e:
            failure.append(e)
        finally:
            gone.set()

    reader_task = asyncio.create_task(reader())
    gone_task = asyncio.create_task(gone.wait())
    try:
        while True:
            get = asyncio.create_task(stream.queue.get())
            await asyncio.wait({get, gone_task}, return_when=asyncio.FIRST_COMPLETED)
            if not get.done():
                get.cancel()
                break
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
                started = True
            await send({"type": "http.response.body", "body": get.result(), "more_body": True})
            if stream.queue.qsize() == 0:
                stream.on_drained()
        if failure and not started:
            await _send_error(send, failure[0])
            return
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (ConnectionResetError, OSError):
        pass
    finally:
        reader_task.cancel()
        gone_task.cancel()
        stream.close()


async def serve_keepalive(s: EtcdServer, receive, send) -> None:
    """One `{"result": {header, ID, TTL}}` line per request object in the body, answered as each
    arrives; the response ends with the body, as etcd's gateway does."""
    started = False
    parser = _StreamBody()

    async def line(obj: dict) -> None:
        nonlocal started
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
            started = True
        await send({"type": "http.response.body", "body": codec.dumps(obj) + b"\n", "more_body": True})

    try:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            for obj in parser.feed(msg.get("body", b"")):
                if not isinstance(obj, dict):
                    raise EtcdError("json: cannot unmarshal into Go value of type etcdserverpb.LeaseKeepAliveRequest",
                                    errors.UNKNOWN)
                await line({"result": await lease_keepalive_one(s, obj)})
            if not msg.get("more_body"):
                parser.finish()
                break
    except EtcdError as e:
        if not started:
            await _send_error(send, e)
            return
        await line({"error": e.body()})
    if not started:
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


# ---------------------------------------------------------------- plain HTTP endpoints

async def serve_plain(s: EtcdServer, path: str, send) -> None:
    if path == "/version":
        await _send_bytes(send, 200, codec.dumps({"etcdserver": ETCD_VERSION, "etcdcluster": CLUSTER_VERSION}))
    elif path == "/health":
        ok = s.node.leader_address() is not None
        body = {"health": "true"} if ok else {"health": "false", "reason": "RAFT NO LEADER"}
        await _send_bytes(send, 200 if ok else 503, codec.dumps(body))
    elif path == "/livez":
        await _send_text(send, 200, "ok")
    elif path in ("/readyz", "/healthz"):
        ok = s.node.sync.isReady() and s.node.leader_address() is not None
        await _send_text(send, 200 if ok else 503, "ok" if ok else "no leader")
    elif path == "/metrics":
        await _send_bytes(send, 200, s.metrics.render(s), [(b"content-type", CONTENT_TYPE_LATEST.encode())])
    else:
        await _send_text(send, 404, "404 page not found\n")
