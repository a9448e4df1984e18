"""A small Jepsen-like partition run against a 3-member store: kubeling's or a real etcd 3.4.

Members run in network namespaces (netlab.py); clients run in the hub, one pair per member, so
every member keeps its clients whatever links are cut, as in Jepsen's etcd tests:
- an *appender* puts fresh keys `/jepsen/k/<client>-<n>` and notes each acknowledged revision;
- a *register* client alternates a put of a unique value to `/jepsen/reg` and a linearizable get.
A nemesis cuts links (the leader isolated, a bridge, a random member isolated) for 5-8 s, heals,
waits for the cluster to agree on a leader, and again. Every operation is recorded with its start,
end and outcome: ok, fail (certainly not done: the request never reached the member) or unknown
(a timeout or an error answer: it may or may not have happened).

Checks (each violation counts as one anomaly, lost writes apart):
- revisions follow real time: an operation that started after another ended sees a revision at
  least as high (a put: strictly higher); etcd's revision is the store's linearization order;
- no two acknowledged puts share a revision;
- the register: a read returns a value some put wrote (acknowledged with that revision, or of
  unknown outcome), never one whose put started after the read ended, and never older than an
  acknowledged put that ended before the read started; its mod_revision is at most the read's
  header revision;
- after healing: every acknowledged appended key is on every member with its value and revision
  (otherwise a lost write), and all members hold identical keys, values and revisions.
"""
from __future__ import annotations

import asyncio
import base64
import bisect
import json
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from .netlab import NetLab

PREFIX = "/jepsen/"
REGISTER = "/jepsen/reg"
CLIENT_PORT, PEER_PORT = 2379, 2380
KINDS = ("isolate-leader", "bridge", "isolate-random")


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def unb64(s: str) -> str:
    return base64.b64decode(s).decode()


def prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# ---------------------------------------------------------------- stores

def store_argv(store: str, lab: NetLab, i: int, data_dir: Path, secret_file: Path | None) -> list[str]:
    """How member i of `store` ("kubeling" or "etcd") is started inside its namespace."""
    addr = lab.addresses[i]
    initial = ",".join(f"etcd-{j}=http://{a}:{PEER_PORT}" for j, a in enumerate(lab.addresses))
    common = ["--name", f"etcd-{i}", "--data-dir", str(data_dir / f"etcd-{i}"),
              "--listen-client-urls", f"http://{addr}:{CLIENT_PORT}",
              "--advertise-client-urls", f"http://{addr}:{CLIENT_PORT}",
              "--listen-peer-urls", f"http://{addr}:{PEER_PORT}",
              "--initial-advertise-peer-urls", f"http://{addr}:{PEER_PORT}",
              "--initial-cluster", initial, "--initial-cluster-state", "new",
              "--initial-cluster-token", "jepsen-partition"]
    if store == "kubeling":
        assert secret_file is not None
        return [sys.executable, "-m", "kubeling", "etcd", *common, "--peer-secret-file", str(secret_file)]
    if store == "etcd":
        return ["etcd", *common]
    raise ValueError(f"unknown store {store!r}")


def write_secret(path: Path) -> Path:
    """A 0600 file with a random peer secret, as kubeling's multi-member stores require."""
    import secrets

    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(secrets.token_hex(32) + "\n")
    return path


# ---------------------------------------------------------------- history

@dataclass
class Op:
    client: str
    kind: str  # put | get
    key: str
    value: str | None
    start: float
    end: float = 0.0
    status: str = "unknown"  # ok | fail | unknown
    revision: int = 0  # header revision of an ok answer
    mod_revision: int = 0  # get: the key's mod_revision (0: absent)
    read: str | None = None  # get: the value read


@dataclass
class Cycle:
    kind: str
    cut: list[list[int]]
    leader_before: int | None
    cut_at: float
    healed_at: float = 0.0
    caught_up_after: float | None = None  # heal -> every member at the revision the cluster had at heal


@dataclass
class RunResult:
    store: str
    operations: int = 0
    acknowledged_writes: int = 0
    unknown_writes: int = 0
    ok_reads: int = 0
    lost: int = 0
    anomalies: int = 0
    leader_changes: int = 0
    raft_truncations: int = 0
    members_identical: bool = False
    cycles: list[Cycle] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        d = asdict(self)
        d["problems"] = d["problems"][:20]
        return d


class Member:
    def __init__(self, index: int, url: str) -> None:
        self.index = index
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(2.0, connect=1.0),
                                      limits=httpx.Limits(max_connections=8))

    async def post(self, path: str, body: dict, timeout: float | None = None) -> dict:
        kw = {} if timeout is None else {"timeout": timeout}
        r = await self.http.post(path, content=json.dumps(body), **kw)
        if r.status_code != 200:
            raise ErrorAnswer(r.status_code, r.text)
        return r.json()

    async def status(self) -> dict:
        return await self.post("/v3/maintenance/status", {}, timeout=0.5)

    async def close(self) -> None:
        await self.http.aclose()


class ErrorAnswer(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text[:200]}")


async def call(member: Member, op: Op, path: str, body: dict) -> dict | None:
    """Send one operation; record its outcome on `op`."""
    try:
        answer = await member.post(path, body)
    except httpx.ConnectError:
        op.status = "fail"  # never reached the member
        return None
    except (httpx.HTTPError, ErrorAnswer):
        op.status = "unknown"
        return None
    finally:
        op.end = time.monotonic()
    op.status = "ok"
    op.revision = int(answer["header"]["revision"])
    return answer


class Workload:
    def __init__(self, members: list[Member], pace: float = 0.01) -> None:
        self.members = members
        self.pace = pace
        self.ops: list[Op] = []
        self.running = True
        self.status_log: list[tuple[float, int, int, int, int]] = []  # t, member, leader, term, revision

    async def appender(self, m: Member) -> None:
        name = f"m{m.index}a"
        n = 0
        while self.running:
            n += 1
            key, value = f"{PREFIX}k/{name}-{n}", f"{name}-{n}"
            op = Op(name, "put", key, value, time.monotonic())
            self.ops.append(op)
            await call(m, op, "/v3/kv/put", {"key": b64(key), "value": b64(value)})
            await asyncio.sleep(self.pace)

    async def register(self, m: Member) -> None:
        name = f"m{m.index}r"
        n = 0
        while self.running:
            n += 1
            if n % 2:
                value = f"{name}-{n}"
                op = Op(name, "put", REGISTER, value, time.monotonic())
                self.ops.append(op)
                await call(m, op, "/v3/kv/put", {"key": b64(REGISTER), "value": b64(value)})
            else:
                op = Op(name, "get", REGISTER, None, time.monotonic())
                self.ops.append(op)
                answer = await call(m, op, "/v3/kv/range", {"key": b64(REGISTER)})
                if answer is not None:
                    kvs = answer.get("kvs") or []
                    if kvs:
                        op.read = unb64(kvs[0].get("value", ""))
                        op.mod_revision = int(kvs[0]["mod_revision"])
            await asyncio.sleep(self.pace)

    async def watch_status(self) -> None:
        while self.running:
            await self.poll_status()
            await asyncio.sleep(0.2)

    async def poll_status(self) -> list[dict | None]:
        async def one(m: Member) -> dict | None:
            try:
                st = await m.status()
            except (httpx.HTTPError, ErrorAnswer, KeyError, ValueError):
                return None
            self.status_log.append((time.monotonic(), m.index, int(st.get("leader", 0)),
                                    int(st.get("raftTerm", 0)), int(st["header"]["revision"])))
            return st

        return list(await asyncio.gather(*(one(m) for m in self.members)))

    async def leader(self) -> int | None:
        """The member that the members with the highest term agree is leader, if any."""
        statuses = await self.poll_status()
        ids = {int(st["header"]["member_id"]): i for i, st in enumerate(statuses) if st}
        views = [(int(st.get("raftTerm", 0)), int(st.get("leader", 0))) for st in statuses if st]
        if not views:
            return None
        top = max(t for t, _ in views)
        leaders = {lid for t, lid in views if t == top and lid}
        if len(leaders) == 1:
            return ids.get(leaders.pop())
        return None

    def leader_changes(self) -> int:
        seen = {(term, leader) for _, _, leader, term, _ in self.status_log if leader}
        return max(0, len(seen) - 1)


async def wait_for(cond, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await cond()
        if got:
            return got
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


async def agreed_leader(w: Workload, timeout: float = 30.0) -> int:
    async def cond():
        lid = await w.leader()
        return None if lid is None else lid + 1
    return await wait_for(cond, timeout, "an agreed leader", interval=0.1) - 1


async def nemesis(w: Workload, lab: NetLab, schedule: list[str], rng: random.Random, cut_range: tuple[float, float],
                  settle: float, cycles: list[Cycle]) -> None:
    for kind in schedule:
        leader = await agreed_leader(w)
        await asyncio.sleep(settle)  # the fault schedule: a stretch of healthy cluster between cuts
        leader = await agreed_leader(w)
        if kind == "isolate-leader":
            target = [leader]
            lab.isolate(leader)
            cut = [[leader, o] for o in range(lab.size) if o != leader]
        elif kind == "isolate-random":
            target = [rng.randrange(lab.size)]
            lab.isolate(target[0])
            cut = [[target[0], o] for o in range(lab.size) if o != target[0]]
        elif kind == "bridge":
            bridge = rng.randrange(lab.size)
            a, b = [i for i in range(lab.size) if i != bridge]
            lab.cut(a, b)
            cut = [[a, b]]
        else:
            raise ValueError(kind)
        cycle = Cycle(kind, cut, leader, time.monotonic())
        cycles.append(cycle)
        await asyncio.sleep(rng.uniform(*cut_range))  # the fault schedule: how long the cut lasts
        statuses = await w.poll_status()
        target_rev = max(int(st["header"]["revision"]) for st in statuses if st)
        lab.heal()
        cycle.healed_at = time.monotonic()

        async def caught_up():
            sts = await w.poll_status()
            return all(st and int(st["header"]["revision"]) >= target_rev for st in sts)

        try:
            await wait_for(caught_up, 30.0, "every member caught up after healing", interval=0.02)
            cycle.caught_up_after = time.monotonic() - cycle.healed_at
        except TimeoutError:
            cycle.caught_up_after = None


async def converge(members: list[Member], timeout: float = 60.0) -> list[list[tuple]]:
    """After the last heal: wait until every member reports one revision, then dump PREFIX from each."""
    async def same_revision():
        revs = set()
        for m in members:
            try:
                revs.add(int((await m.status())["header"]["revision"]))
            except (httpx.HTTPError, ErrorAnswer):
                return None
        return revs if len(revs) == 1 else None

    await wait_for(same_revision, timeout, "every member at one revision", interval=0.1)
    dumps = []
    for m in members:
        answer = await m.post("/v3/kv/range", {"key": b64(PREFIX), "range_end": b64(prefix_end(PREFIX)),
                                               "serializable": True}, timeout=30.0)
        dumps.append([(unb64(kv["key"]), unb64(kv.get("value", "")), int(kv["create_revision"]),
                       int(kv["mod_revision"]), int(kv["version"])) for kv in answer.get("kvs") or []])
    return dumps


# ---------------------------------------------------------------- checker

def check(ops: list[Op], dumps: list[list[tuple]], result: RunResult) -> None:
    problems = result.problems
    ok = [o for o in ops if o.status == "ok"]
    puts = [o for o in ok if o.kind == "put"]
    result.operations = len(ops)
    result.acknowledged_writes = len(puts)
    result.unknown_writes = sum(1 for o in ops if o.kind == "put" and o.status == "unknown")
    result.ok_reads = sum(1 for o in ok if o.kind == "get")

    # revisions follow real time
    by_end = sorted(ok, key=lambda o: o.end)
    ends = [o.end for o in by_end]
    prefix_max: list[int] = []
    best = 0
    for o in by_end:
        best = max(best, o.revision)
        prefix_max.append(best)
    for o in ok:
        i = bisect.bisect_left(ends, o.start)
        before = prefix_max[i - 1] if i else 0
        if o.kind == "put" and o.revision <= before:
            problems.append(f"put {o.key} by {o.client} got revision {o.revision}, not above {before} "
                            "already acknowledged before it started")
        if o.kind == "get" and o.revision < before:
            problems.append(f"stale read by {o.client}: header revision {o.revision} < {before} "
                            "acknowledged before it started")

    # no two acknowledged puts share a revision
    seen: dict[int, Op] = {}
    for o in puts:
        if o.revision in seen:
            problems.append(f"puts {seen[o.revision].key}={seen[o.revision].value} and {o.key}={o.value} "
                            f"both acknowledged at revision {o.revision}")
        seen[o.revision] = o

    # the register
    writes = {o.value: o for o in ops if o.kind == "put" and o.key == REGISTER and o.status != "fail"}
    acked = sorted((o for o in puts if o.key == REGISTER), key=lambda o: o.end)
    acked_ends = [o.end for o in acked]
    acked_max: list[int] = []
    best = 0
    for o in acked:
        best = max(best, o.revision)
        acked_max.append(best)
    for r in (o for o in ok if o.kind == "get"):
        if r.mod_revision > r.revision:
            problems.append(f"read by {r.client}: mod_revision {r.mod_revision} above its header revision {r.revision}")
        if r.read is not None:
            w = writes.get(r.read)
            if w is None:
                problems.append(f"read by {r.client} returned {r.read!r}, which no put wrote")
            else:
                if w.status == "ok" and w.revision != r.mod_revision:
                    problems.append(f"read of {r.read!r} at mod_revision {r.mod_revision}, acknowledged at {w.revision}")
                if w.start > r.end:
                    problems.append(f"read by {r.client} returned {r.read!r} before its put started")
        i = bisect.bisect_left(acked_ends, r.start)
        floor = acked_max[i - 1] if i else 0
        if r.mod_revision < floor:
            problems.append(f"stale register read by {r.client}: mod_revision {r.mod_revision} < {floor}, "
                            "a put acknowledged before the read started")
    result.anomalies = len(problems)

    # after healing: no acknowledged write lost, members identical
    final = {k: (v, mod) for k, v, _, mod, _ in dumps[0]} if dumps else {}
    lost = 0
    for o in puts:
        if o.key == REGISTER:
            continue
        if final.get(o.key) != (o.value, o.revision):
            lost += 1
            problems.append(f"lost: {o.key}={o.value} acknowledged at revision {o.revision}, now {final.get(o.key)}")
    result.lost = lost
    result.members_identical = bool(dumps) and all(d == dumps[0] for d in dumps)
    if not result.members_identical:
        result.anomalies += 1
        problems.append("members differ after healing: " + ", ".join(str(len(d)) + " keys" for d in dumps))


# ---------------------------------------------------------------- one run

def count_truncations(logs: list[Path]) -> int:
    n = 0
    for p in logs:
        try:
            n += p.read_text(errors="replace").count("truncating already-applied log entries")
        except OSError:
            pass
    return n


def run(store: str, workdir: Path, schedule: list[str], seed: int = 1, cut_range: tuple[float, float] = (5.0, 8.0),
        settle: float = 2.0, tag: str | None = None, store_tree: Path | None = None) -> RunResult:
    """Start a 3-member `store` in fresh namespaces, run the workload under `schedule`, check,
    and remove everything (processes by PID, namespaces) whatever happens. `store_tree` runs
    kubeling's store from another importable tree (bench/clusters.py pin_store) instead of the
    installed checkout."""
    workdir.mkdir(parents=True, exist_ok=True)
    lab = NetLab(3, tag=tag)
    result = RunResult(store)
    rng = random.Random(seed)
    logs = [workdir / f"{store}-etcd-{i}.log" for i in range(lab.size)]
    try:
        lab.create()
        secret = write_secret(workdir / "peer-secret") if store == "kubeling" else None
        pinned = {"env": {"PYTHONPATH": str(store_tree)}, "cwd": store_tree} if store_tree else {}
        procs = [lab.start(i, store_argv(store, lab, i, workdir / "data", secret), logs[i], **pinned)
                 for i in range(lab.size)]

        async def scenario() -> None:
            members = [Member(i, f"http://{a}:{CLIENT_PORT}") for i, a in enumerate(lab.addresses)]
            w = Workload(members)
            try:
                async def healthy():
                    for p, log in zip(procs, logs):
                        if p.poll() is not None:
                            raise RuntimeError(f"a member exited: {log.read_text()[-2000:]}")
                    try:
                        return await w.leader() is not None
                    except httpx.HTTPError:
                        return False
                await wait_for(healthy, 60.0, "the store to elect a leader", interval=0.2)
                tasks = [asyncio.create_task(t) for m in members for t in (w.appender(m), w.register(m))]
                tasks.append(asyncio.create_task(w.watch_status()))
                try:
                    await nemesis(w, lab, schedule, rng, cut_range, settle, result.cycles)
                    await asyncio.sleep(settle)  # a last healthy stretch under load
                finally:
                    lab.heal()
                    w.running = False
                    await asyncio.gather(*tasks, return_exceptions=True)
                dumps = await converge(members)
                result.leader_changes = w.leader_changes()
                check(w.ops, dumps, result)
            finally:
                for m in members:
                    await m.close()

        lab.run_in_hub(lambda: asyncio.run(scenario()))
    finally:
        lab.destroy()
    result.raft_truncations = count_truncations(logs) if store == "kubeling" else 0
    return result


def median_catch_up(results: list[RunResult], kind: str | None = None) -> float | None:
    xs = [c.caught_up_after for r in results for c in r.cycles
          if c.caught_up_after is not None and (kind is None or c.kind == kind)]
    return statistics.median(xs) if xs else None
