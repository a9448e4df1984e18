#!/usr/bin/env python3
"""Benchmark `kubeling apiserver` on kubeling's store and on a real etcd (issue 3, "Measured").

    python bench/apiserver_bench.py [--runs 2] [--kinds kubeling,etcd-nofsync] [--out DIR]

For each run, for each kind in turn (alternating), it starts a fresh 3-member store cluster
(bench/clusters.py) and one `python -m kubeling apiserver` on free loopback ports, then:

 1. creates: open loop at --rate pods/s (default 100) for --seconds (20): latency p50/p99,
    achieved rate, errors; then closed-loop max create throughput with 32 workers.
 2. get: sequential GETs of single pods, p50/p99.
 3. list: fills the namespace to --list-pods (10,000) pods, then full LISTs of the namespace
    with resourceVersion unset (read from the store) and resourceVersion=0 (watch cache).
 4. watch: --watchers (100) watchers on the namespace's pods, from the resourceVersion of the
    last create; creates --watch-pods pods; every watcher must see every ADDED event.
    Delivery latency = event arrival at a watcher - create response arrival (may be < 0).
    The store's `etcd_debugging_mvcc_watcher_total` (summed over the members) is read before
    and with the watchers connected, so a multiplied store load shows.

The client is a minimal keep-alive HTTP/1.1 client on asyncio streams (one connection per
in-flight request), so the client's CPU stays small; each phase reports the client's CPU %.
Raw JSON per run, summary.md and provenance.json go to DIR (default bench/results/api-<UTC>).
Only PIDs started here are killed, on success, error, Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusters import KINDS, REPO, Cluster, free_port, pin_store, provenance, wait_for

NS = "bench"


# ---------------------------------------------------------------- a small HTTP/1.1 client
class HttpError(RuntimeError):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port (Content-Length or chunked bodies)."""

    def __init__(self, port: int):
        self.port = port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 24)

    def close(self) -> None:
        if self.w is not None:
            self.w.close()
        self.r = self.w = None

    async def head(self) -> tuple[int, dict]:
        line = await self.r.readline()
        if not line:
            raise ConnectionResetError("closed by server")
        status = int(line.split()[1])
        hdrs = {}
        while True:
            h = await self.r.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs

    async def body(self, hdrs: dict) -> bytes:
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.r.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.r.readline()
                    return b"".join(parts)
                parts.append(await self.r.readexactly(size))
                await self.r.readexactly(2)
        n = int(hdrs.get("content-length", "0"))
        return await self.r.readexactly(n) if n else b""

    def send(self, method: str, path: str, body: bytes | None) -> None:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: application/json\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.w.write(head.encode() + b"\r\n" + (body or b""))

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in (0, 1):
            fresh = self.w is None
            if fresh:
                await self.connect()
            try:
                self.send(method, path, body)
                status, hdrs = await self.head()
                data = await self.body(hdrs)
                if hdrs.get("connection", "").lower() == "close":
                    self.close()
                return status, data
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if fresh or attempt:  # only retry a stale keep-alive connection, once
                    raise
        raise AssertionError("unreachable")


class Pool:
    """Idle connections to reuse; a new one is opened when all are busy (open loop needs that)."""

    def __init__(self, port: int):
        self.port, self.idle, self.opened = port, [], 0

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = self.idle.pop() if self.idle else None
        if conn is None:
            conn, self.opened = Conn(self.port), self.opened + 1
        try:
            res = await conn.request(method, path, body)
        except BaseException:
            conn.close()
            raise
        self.idle.append(conn)
        return res

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle = []


# ---------------------------------------------------------------- helpers
def pct(vals: list[float], q: float) -> float | None:
    if not vals:
        return None
    s = sorted(vals)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def lat(vals_s: list[float]) -> dict:
    ms = [v * 1000 for v in vals_s]
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "max_ms": max(ms) if ms else None,
            "mean_ms": statistics.fmean(ms) if ms else None}


class Cpu:
    def __enter__(self):
        self.c0, self.t0 = time.process_time(), time.monotonic()
        return self

    def __exit__(self, *a):
        self.cpu, self.wall = time.process_time() - self.c0, time.monotonic() - self.t0

    @property
    def pct(self) -> float:
        return round(100 * self.cpu / max(self.wall, 1e-9), 1)


def pod(name: str) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
                       "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}).encode()


PODS = f"/api/v1/namespaces/{NS}/pods"


async def create(pool: Pool, name: str) -> tuple[int, bytes, float, float]:
    t0 = time.monotonic()
    status, data = await pool.request("POST", PODS, pod(name))
    return status, data, t0, time.monotonic()


# ---------------------------------------------------------------- phases
async def phase_open_loop(port: int, rate: float, seconds: float, prefix: str) -> dict:
    pool, lats, errors, done = Pool(port), [], [], []
    n = int(rate * seconds)

    async def one(i: int) -> None:
        try:
            status, data, t0, t1 = await create(pool, f"{prefix}-{i}")
            if status == 201:
                lats.append(t1 - t0)
                done.append(t1)
            else:
                errors.append(f"{status} {data[:200]!r}")
        except Exception as e:  # noqa: BLE001 - an error is a measured outcome here
            errors.append(repr(e))

    tasks, lag = [], []
    with Cpu() as cpu:
        start = time.monotonic()
        for i in range(n):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lag.append(time.monotonic() - due)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    send_span = (n - 1) / rate
    pool.close()
    return {"target_rate": rate, "sent": n, "ok": len(lats), "errors": len(errors), "error_samples": errors[:5],
            "achieved_rate": round(len(lats) / max(max(done) - start, send_span), 1) if done else 0.0,
            "latency": lat(lats), "send_lag_p99_ms": pct([x * 1000 for x in lag], 99),
            "connections_opened": pool.opened, "client_cpu_pct": cpu.pct, "wall_s": round(cpu.wall, 2)}


async def closed_loop_creates(port: int, workers: int, prefix: str, count: int | None = None,
                              seconds: float | None = None) -> dict:
    """`workers` connections each creating pods back to back, until `count` pods or `seconds` pass."""
    lats, errors, counter = [], [], iter(range(10 ** 9))
    stop_at = time.monotonic() + seconds if seconds else None

    async def worker() -> None:
        conn = Conn(port)
        try:
            while True:
                if stop_at and time.monotonic() >= stop_at:
                    return
                i = next(counter)
                if count is not None and i >= count:
                    return
                t0 = time.monotonic()
                try:
                    status, data = await conn.request("POST", PODS, pod(f"{prefix}-{i}"))
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))
                    continue
                if status == 201:
                    lats.append(time.monotonic() - t0)
                else:
                    errors.append(f"{status} {data[:200]!r}")
        finally:
            conn.close()

    with Cpu() as cpu:
        await asyncio.gather(*(worker() for _ in range(workers)))
    return {"workers": workers, "ok": len(lats), "errors": len(errors), "error_samples": errors[:5],
            "ops_per_s": round(len(lats) / cpu.wall, 1), "latency": lat(lats), "client_cpu_pct": cpu.pct,
            "wall_s": round(cpu.wall, 2)}


async def phase_get(port: int, names: list[str]) -> dict:
    conn, lats, errors = Conn(port), [], 0
    with Cpu() as cpu:
        for name in names:
            t0 = time.monotonic()
            status, _ = await conn.request("GET", f"{PODS}/{name}")
            if status == 200:
                lats.append(time.monotonic() - t0)
            else:
                errors += 1
    conn.close()
    return {"latency": lat(lats), "errors": errors, "ops_per_s": round(len(lats) / cpu.wall, 1),
            "client_cpu_pct": cpu.pct}


async def phase_list(port: int, calls: int, rv0: bool) -> dict:
    conn, lats, counts, sizes, errors = Conn(port), [], [], [], []
    path = PODS + ("?resourceVersion=0" if rv0 else "")
    with Cpu() as cpu:
        for _ in range(calls):
            t0 = time.monotonic()
            status, data = await conn.request("GET", path)
            t1 = time.monotonic()
            if status != 200:
                errors.append(f"{status} {data[:200]!r}")
                continue
            lats.append(t1 - t0)
            sizes.append(len(data))
            counts.append(len(json.loads(data)["items"]))
    conn.close()
    return {"resourceVersion": "0" if rv0 else "unset", "latency": lat(lats),
            "samples_ms": [round(x * 1000, 1) for x in lats], "items": counts,
            "bytes": sizes[-1] if sizes else None, "errors": errors[:5], "client_cpu_pct": cpu.pct}


async def phase_store_range(cluster: Cluster, calls: int) -> dict:
    """The store's own share of a LIST: one range over the namespace's pod keys on the first member
    (the apiserver's first --etcd-servers URL), read in full by this client, not decoded."""
    import base64
    url = cluster.endpoints[0]
    conn, lats, sizes = Conn(int(url.rsplit(":", 1)[1])), [], []
    key = f"/registry/pods/{NS}/".encode()
    body = json.dumps({"key": base64.b64encode(key).decode(),
                       "range_end": base64.b64encode(key[:-1] + bytes([key[-1] + 1])).decode()}).encode()
    for _ in range(calls):
        t0 = time.monotonic()
        status, data = await conn.request("POST", "/v3/kv/range", body)
        if status == 200:
            lats.append(time.monotonic() - t0)
            sizes.append(len(data))
    count = json.loads(data).get("count") if status == 200 else None
    conn.close()
    return {"latency": lat(lats), "samples_ms": [round(x * 1000, 1) for x in lats], "count": count,
            "bytes": sizes[-1] if sizes else None}


async def count_pods(port: int) -> int:
    conn = Conn(port)
    _, data = await conn.request("GET", PODS + "?limit=1")
    conn.close()
    meta = json.loads(data)["metadata"]
    return 1 + meta.get("remainingItemCount", 0) if meta.get("continue") else len(json.loads(data)["items"])


def store_watchers(cluster: Cluster) -> int | None:
    total = 0
    for url in cluster.endpoints:
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("etcd_debugging_mvcc_watcher_total"):
                total += int(float(line.split()[-1]))
    return total


async def phase_watch(port: int, cluster: Cluster, watchers: int, npods: int, rate: float, prefix: str) -> dict:
    pool = Pool(port)
    # the resourceVersion to start from: a create just before the watchers open
    _, data, _, _ = await create(pool, f"{prefix}-start")
    rv = json.loads(data)["metadata"]["resourceVersion"]
    before = store_watchers(cluster)
    arrivals: list[dict[str, float]] = [{} for _ in range(watchers)]
    ready = [asyncio.Event() for _ in range(watchers)]
    closed_early: list[str] = []

    async def watch(k: int) -> None:
        conn = Conn(port)
        await conn.connect()
        conn.send("GET", f"{PODS}?watch=true&resourceVersion={rv}&timeoutSeconds=600&allowWatchBookmarks=false", None)
        st, _ = await conn.head()
        if st != 200:
            closed_early.append(f"watcher {k}: HTTP {st}")
            ready[k].set()
            return
        ready[k].set()
        buf, seen = b"", arrivals[k]
        try:
            while True:
                size = int((await conn.r.readline()).split(b";")[0], 16)
                if size == 0:
                    closed_early.append(f"watcher {k}: stream ended")
                    return
                buf += await conn.r.readexactly(size)
                await conn.r.readexactly(2)
                now = time.monotonic()
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        ev = json.loads(line)
                        if ev.get("type") == "ADDED":
                            seen.setdefault(ev["object"]["metadata"]["name"], now)
        finally:
            conn.close()

    tasks = [asyncio.create_task(watch(k)) for k in range(watchers)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 60)
    during = None
    for _ in range(20):  # the apiserver may open its store watch lazily; give the metric a moment
        during = store_watchers(cluster)
        if during is not None and before is not None and during != before:
            break
        await asyncio.sleep(0.1)
    names = [f"{prefix}-{i}" for i in range(npods)]
    acked: dict[str, tuple[float, float]] = {}
    errors = []

    async def one(name: str) -> None:
        try:
            st, body, t0, t1 = await create(pool, name)
            if st == 201:
                acked[name] = (t0, t1)
            else:
                errors.append(f"{st} {body[:200]!r}")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    with Cpu() as cpu:
        start, creates = time.monotonic(), []
        for i, name in enumerate(names):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            creates.append(asyncio.create_task(one(name)))
        await asyncio.gather(*creates)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(all(n in a for n in acked) for a in arrivals):
            await asyncio.sleep(0.1)
    after_store = store_watchers(cluster)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pool.close()
    d_ack, d_send, missed = [], [], 0
    for a in arrivals:
        for name, (t0, t1) in acked.items():
            if name in a:
                d_ack.append(a[name] - t1)
                d_send.append(a[name] - t0)
            else:
                missed += 1
    return {"watchers": watchers, "pods": npods, "rate": rate, "acked": len(acked), "create_errors": len(errors),
            "error_samples": errors[:5], "expected_deliveries": len(acked) * watchers, "delivered": len(d_ack),
            "missed": missed, "closed_early": closed_early[:5],
            "delivery_after_ack": lat(d_ack), "delivery_after_send": lat(d_send),
            "store_watchers_before": before, "store_watchers_with_clients": during,
            "store_watchers_end": after_store, "client_cpu_pct": cpu.pct}


async def measure(port: int, cluster: Cluster, args: argparse.Namespace) -> dict:
    out: dict = {}
    conn = Conn(port)
    st, body = await conn.request("POST", "/api/v1/namespaces", json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}).encode())
    conn.close()
    if st not in (200, 201):
        raise RuntimeError(f"namespace create: {st} {body[:300]!r}")
    log("  warm-up: 50 creates")
    out["warmup"] = await closed_loop_creates(port, 4, "warm", count=50)
    log(f"  1) open-loop creates at {args.rate}/s for {args.seconds}s")
    out["create_open_loop"] = await phase_open_loop(port, args.rate, args.seconds, "ol")
    log(f"     {summ(out['create_open_loop'])}")
    log(f"  1b) max create throughput, {args.workers} workers, {args.max_seconds}s")
    out["create_max"] = await closed_loop_creates(port, args.workers, "mx", seconds=args.max_seconds)
    log(f"     {out['create_max']['ops_per_s']} ops/s, {summ_lat(out['create_max']['latency'])}")
    made = out["create_open_loop"]["ok"]
    names = [f"ol-{i}" for i in range(min(made, args.gets))]
    log(f"  2) {len(names)} sequential gets")
    out["get"] = await phase_get(port, names)
    have = await count_pods(port)
    need = max(0, args.list_pods - have)
    log(f"  3) fill: {have} pods present, creating {need} with {args.workers} workers")
    out["fill"] = await closed_loop_creates(port, args.workers, "fill", count=need)
    out["fill"]["pods_before"] = have
    out["list_pods"] = await count_pods(port)
    log(f"     fill: {out['fill']['ops_per_s']} ops/s, {out['fill']['errors']} errors; pods now {out['list_pods']}")
    out["list_store"] = await phase_list(port, args.list_calls, rv0=False)
    log(f"     LIST rv unset: {summ_lat(out['list_store']['latency'])} items {out['list_store']['items'][:1]}")
    out["list_cache"] = await phase_list(port, args.list_calls, rv0=True)
    log(f"     LIST rv=0:     {summ_lat(out['list_cache']['latency'])} items {out['list_cache']['items'][:1]}")
    out["store_range"] = await phase_store_range(cluster, args.list_calls)
    log(f"     store range of the pods (member 0): {summ_lat(out['store_range']['latency'])} "
        f"count {out['store_range']['count']} bytes {out['store_range']['bytes']}")
    log(f"  4) {args.watchers} watchers, {args.watch_pods} creates at {args.watch_rate}/s")
    out["watch"] = await phase_watch(port, cluster, args.watchers, args.watch_pods, args.watch_rate, "w")
    w = out["watch"]
    log(f"     delivered {w['delivered']}/{w['expected_deliveries']} missed {w['missed']}; "
        f"{summ_lat(w['delivery_after_ack'])}; store watchers {w['store_watchers_before']} -> "
        f"{w['store_watchers_with_clients']}")
    return out


def summ_lat(x: dict) -> str:
    return f"p50 {fmt(x['p50_ms'])} ms p99 {fmt(x['p99_ms'])} ms (n={x['n']})"


def summ(x: dict) -> str:
    return f"{x['achieved_rate']}/s ok {x['ok']} err {x['errors']} {summ_lat(x['latency'])} cpu {x['client_cpu_pct']}%"


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 100):
        return str(int(v))
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- processes
def start_apiserver(store: Cluster, base: Path, tree: Path | None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env, cwd = None, None
    if tree is not None:
        env, cwd = dict(os.environ, PYTHONPATH=str(tree)), tree
    cmd = [sys.executable, "-m", "kubeling", "apiserver", f"--etcd-servers={','.join(store.endpoints)}",
           "--bind-address", "127.0.0.1", "--secure-port", str(port), "--service-cluster-ip-range", "10.96.0.0/16"]
    with open(base / "apiserver.log", "ab") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=cwd, start_new_session=True)

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("apiserver exited: " + (base / "apiserver.log").read_text(errors="replace")[-2000:])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    wait_for(ready, 90, "apiserver /readyz", interval=0.2)
    return proc, port


def stop_proc(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


def proc_cpu(pid: int) -> float | None:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def one_run(kind: str, run: int, args: argparse.Namespace, scratch: Path, tree: Path | None) -> dict:
    base = scratch / f"{kind}-r{run}"
    cluster = Cluster(kind, base / "store", store_tree=tree)
    api = None
    res: dict = {"kind": kind, "run": run, "loadavg_start": list(os.getloadavg()), "utc_start": time.strftime("%H:%M:%S", time.gmtime())}
    try:
        cluster.start()
        api, port = start_apiserver(cluster, base, tree)
        log(f"run {run}: {kind}, store {','.join(cluster.endpoints)}, apiserver 127.0.0.1:{port} (pid {api.pid})")
        t0 = time.monotonic()
        res.update(asyncio.run(measure(port, cluster, args)))
        res["wall_s"] = round(time.monotonic() - t0, 1)
        res["apiserver_cpu_s"] = proc_cpu(api.pid)
        res["store_cpu_s"] = [proc_cpu(m.proc.pid) for m in cluster.members]
        res["loadavg_end"] = list(os.getloadavg())
    except Exception as e:  # noqa: BLE001 - record the failure, keep going with the other runs
        res["failed"] = repr(e)
        log(f"run {run} {kind} FAILED: {e!r}")
        try:
            res["apiserver_log_tail"] = (base / "apiserver.log").read_text(errors="replace")[-3000:]
        except OSError:
            pass
    finally:
        stop_proc(api)
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    (args.out / f"{kind}-r{run}.json").write_text(json.dumps(res, indent=1))
    return res


# ---------------------------------------------------------------- summary
ROWS = [
    ("create @100/s achieved /s", lambda r: r["create_open_loop"]["achieved_rate"]),
    ("create @100/s p50 ms", lambda r: r["create_open_loop"]["latency"]["p50_ms"]),
    ("create @100/s p99 ms", lambda r: r["create_open_loop"]["latency"]["p99_ms"]),
    ("create @100/s errors", lambda r: r["create_open_loop"]["errors"]),
    ("create @100/s client CPU %", lambda r: r["create_open_loop"]["client_cpu_pct"]),
    ("create max (32 workers) /s", lambda r: r["create_max"]["ops_per_s"]),
    ("create max p99 ms", lambda r: r["create_max"]["latency"]["p99_ms"]),
    ("create max client CPU %", lambda r: r["create_max"]["client_cpu_pct"]),
    ("get p50 ms", lambda r: r["get"]["latency"]["p50_ms"]),
    ("get p99 ms", lambda r: r["get"]["latency"]["p99_ms"]),
    ("pods in LIST", lambda r: r["list_store"]["items"][0] if r["list_store"]["items"] else None),
    ("LIST (rv unset) p50 ms", lambda r: r["list_store"]["latency"]["p50_ms"]),
    ("LIST (rv unset) p99 ms", lambda r: r["list_store"]["latency"]["p99_ms"]),
    ("LIST (rv=0, cache) p50 ms", lambda r: r["list_cache"]["latency"]["p50_ms"]),
    ("LIST (rv=0, cache) p99 ms", lambda r: r["list_cache"]["latency"]["p99_ms"]),
    ("store range of the 10k pod keys p50 ms", lambda r: r["store_range"]["latency"]["p50_ms"]),
    ("LIST response MB", lambda r: round(r["list_store"]["bytes"] / 1e6, 2)),
    ("fill creates (32 workers) /s", lambda r: r["fill"]["ops_per_s"]),
    ("watch: missed events", lambda r: r["watch"]["missed"]),
    ("watch: delivered / expected", lambda r: f"{r['watch']['delivered']}/{r['watch']['expected_deliveries']}"),
    ("watch delivery p50 ms (after ack)", lambda r: r["watch"]["delivery_after_ack"]["p50_ms"]),
    ("watch delivery p99 ms (after ack)", lambda r: r["watch"]["delivery_after_ack"]["p99_ms"]),
    ("watch delivery p99 ms (after send)", lambda r: r["watch"]["delivery_after_send"]["p99_ms"]),
    ("store watchers: before / with the watchers", lambda r: f"{r['watch']['store_watchers_before']}/{r['watch']['store_watchers_with_clients']}"),
    ("watch phase client CPU %", lambda r: r["watch"]["client_cpu_pct"]),
    ("loadavg (1 min) at start", lambda r: r["loadavg_start"][0]),
]


def cell(vals: list) -> str:
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    if all(isinstance(v, (int, float)) for v in vals):
        return f"{fmt(statistics.median(vals))} [{fmt(min(vals))}-{fmt(max(vals))}]"
    return ", ".join(map(str, vals))


def summarize(results: list[dict], kinds: list[str]) -> str:
    ok = {k: [r for r in results if r["kind"] == k and "failed" not in r] for k in kinds}
    lines = ["| metric | " + " | ".join(f"{k} (n={len(ok[k])})" for k in kinds) + " |",
             "|---|" + "---|" * len(kinds)]
    for label, get in ROWS:
        cells = []
        for k in kinds:
            vals = []
            for r in ok[k]:
                try:
                    vals.append(get(r))
                except (KeyError, TypeError, IndexError):
                    vals.append(None)
            cells.append(cell(vals))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    failed = [f"{r['kind']} r{r['run']}: {r['failed']}" for r in results if "failed" in r]
    if failed:
        lines += ["", "Failed runs: " + "; ".join(failed)]
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--kinds", default="kubeling,etcd-nofsync", help=f"comma list of {', '.join(KINDS)}")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--rev", default=None, help="run store and apiserver exported from this commit (git archive)")
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--workers", type=int, default=32)
    p.add_argument("--max-seconds", type=float, default=10.0)
    p.add_argument("--gets", type=int, default=500)
    p.add_argument("--list-pods", type=int, default=10000)
    p.add_argument("--list-calls", type=int, default=10)
    p.add_argument("--watchers", type=int, default=100)
    p.add_argument("--watch-pods", type=int, default=200)
    p.add_argument("--watch-rate", type=float, default=20.0)
    return p.parse_args()


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    args = parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    args.out = args.out or REPO / "bench" / "results" / ("api-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, interrupt)
    prov = {"command": " ".join(sys.argv), "start": provenance()}
    scratch = Path(tempfile.mkdtemp(prefix="apibench-"))
    results: list[dict] = []
    try:
        tree = None
        if args.rev:
            tree, prov["pinned_commit"] = pin_store(args.rev, scratch / "tree")
        for run in range(1, args.runs + 1):
            for kind in kinds:
                results.append(one_run(kind, run, args, scratch, tree))
    finally:
        prov["end"] = provenance()
        (args.out / "provenance.json").write_text(json.dumps(prov, indent=1))
        shutil.rmtree(scratch, ignore_errors=True)
        if results:
            table = summarize(results, kinds)
            (args.out / "summary.md").write_text(table)
            print(table)


if __name__ == "__main__":
    main()
