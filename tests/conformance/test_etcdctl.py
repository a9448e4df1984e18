"""Conformance: `kubeling etcdctl` prints what the real etcdctl 3.4 prints, operation by operation.

Reference side: Debian's `etcdctl` (ETCDCTL_API=3) against a fresh real etcd. Subject side:
`python -m kubeling etcdctl` against a fresh store of the kind KUBELING_TEST_STORE names:
`etcd` (default: a second real etcd, so only the client differs) or `kubeling` (`kubeling etcd`,
so the client and the store differ). The real etcdctl speaks gRPC, which kubeling's store does not
serve, so it always runs against real etcd.

Both sides run the same operations in the same order, so revisions line up. What two fresh stores
cannot share (cluster and member IDs, lease IDs, ports, member names, raft term and indexes, db size,
timings) is normalised before comparing; everything else must match byte for byte.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.procs import ProcGroup, free_port, wait_until

pytestmark = pytest.mark.etcd

# The subject store(s): kubeling's own store and a second real etcd (which checks the comparison
# itself); KUBELING_TEST_STORE=etcd or =kubeling runs just one.
STORE_KINDS = os.environ.get("KUBELING_TEST_STORE", "kubeling,etcd").split(",")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Store:
    """One fresh single-member store and the identities that make its output unique."""

    name: str
    client_port: int
    peer_port: int
    member_id: int = 0
    cluster_id: int = 0
    leases: list[int] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def etcd_flags(self, data_dir: Path) -> list[str]:
        """The etcd flags; `kubeling etcd` takes the same ones."""
        client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        return ["--name", self.name, "--data-dir", str(data_dir), "--listen-client-urls", client,
                "--advertise-client-urls", client, "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer, "--initial-cluster", f"{self.name}={peer}",
                "--initial-cluster-state", "new"]

    def wait_ready(self) -> None:
        """Healthy, and a write goes through (the member has elected itself)."""
        url = f"http://{self.endpoint}"
        wait_until(lambda: httpx.post(url + "/v3/kv/range", content=b'{"key":"AA=="}', timeout=2).status_code == 200,
                   60, what=f"{self.name} serving")
        head = httpx.post(url + "/v3/cluster/member/list", content=b"{}", timeout=5).json()["header"]
        self.member_id, self.cluster_id = int(head["member_id"]), int(head["cluster_id"])

    def normalise(self, text: str) -> str:
        """Replace this store's identities with placeholders, so two stores print the same text."""
        subs = [(str(self.cluster_id), "<CLUSTER>"), (str(self.member_id), "<MEMBER>"),
                (f"{self.member_id:x}", "<MEMBER>"), (f"http://127.0.0.1:{self.client_port}", "<CLIENT-URL>"),
                (f"http://127.0.0.1:{self.peer_port}", "<PEER-URL>"), (self.endpoint, "<ENDPOINT>"),
                (self.name, "<NAME>")]
        for n, lease in enumerate(self.leases):
            subs += [(f"{lease:016x}", f"<LEASE{n}>"), (str(lease), f"<LEASE{n}>")]
        for old, new in subs:
            text = text.replace(old, new)
        text = re.sub(r'"raft_term":\d+', '"raft_term":<T>', text)
        return re.sub(r"took = [0-9.]+(ns|µs|ms|s)", "took = <D>", text)


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)  # CI installs the reference tools: their absence is a failure there
        pytest.skip(why)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=15)


@pytest.fixture(scope="module", params=STORE_KINDS)
def stores(request, tmp_path_factory) -> Iterator[tuple[Store, Store]]:
    """(reference real etcd, subject store), both fresh; every process killed by PID at the end."""
    kind = request.param
    assert kind in ("etcd", "kubeling"), f"KUBELING_TEST_STORE={kind!r}: use etcd or kubeling"
    _need(shutil.which("etcd") is not None and shutil.which("etcdctl") is not None,
          "etcd and etcdctl (Debian etcd-server, etcd-client) are not installed")
    tmp = tmp_path_factory.mktemp("etcdctl")
    group = ProcGroup(tmp)
    started: list[subprocess.Popen] = []
    try:
        ref = Store("refnode", free_port(), free_port())
        started.append(_start_real_etcd(ref, tmp))
        sub = Store("subnode", free_port(), free_port())
        if kind == "kubeling":
            group.start("subnode", ["etcd", *sub.etcd_flags(tmp / "subnode")])
        else:
            started.append(_start_real_etcd(sub, tmp))
        ref.wait_ready()
        sub.wait_ready()
        yield ref, sub
    finally:
        for proc in started:
            _kill(proc)
        group.stop_all()


def _start_real_etcd(store: Store, tmp: Path) -> subprocess.Popen:
    with open(tmp / f"{store.name}.log", "wb") as log:
        return subprocess.Popen(["etcd", *store.etcd_flags(tmp / f"{store.name}.etcd")], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


# ----------------------------------------------------------------------------------------------

@dataclass
class Result:
    rc: int
    out: str
    err: str
    raw: str = field(default="", compare=False)  # stdout before normalisation (tables keep their frame)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    return dict(env, ETCDCTL_API="3", PYTHONUNBUFFERED="1")


def etcdctl_argv(store: Store, reference: bool, args: list[str]) -> list[str]:
    prog = ["etcdctl"] if reference else [sys.executable, "-m", "kubeling", "etcdctl"]
    return [*prog, "--endpoints", store.endpoint, *args]


def run(store: Store, reference: bool, args: list[str], stdin: bytes = b"") -> Result:
    proc = subprocess.run(etcdctl_argv(store, reference, args), input=stdin, capture_output=True,
                          env=_clean_env(), cwd=REPO, timeout=60)
    err = "\n".join(line for line in proc.stderr.decode(errors="replace").splitlines()
                    if not line.startswith('{"level":'))  # clientv3's zap retry warnings
    raw = proc.stdout.decode(errors="surrogateescape")
    return Result(proc.returncode, store.normalise(raw), store.normalise(err), raw)


def both(stores: tuple[Store, Store], *args: str, stdin: bytes = b"") -> tuple[Result, Result]:
    ref, sub = stores
    return run(ref, True, list(args), stdin), run(sub, False, list(args), stdin)


def same(stores: tuple[Store, Store], *args: str, stdin: bytes = b"") -> Result:
    """Run one command on both sides; stdout, stderr and exit code must be identical."""
    expected, actual = both(stores, *args, stdin=stdin)
    assert actual == expected, f"etcdctl {' '.join(args)}"
    return expected


def grant(stores: tuple[Store, Store], ttl: int) -> None:
    """Grant a lease on both sides and register its ID for normalisation."""
    for store, reference in zip(stores, (True, False)):
        res = run(store, reference, ["lease", "grant", str(ttl)])
        m = re.fullmatch(r"lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)\n", res.out)
        assert m and res.rc == 0, res
        store.leases.append(int(m.group(1), 16))


# ----------------------------------------------------------------------------------------------
# The tests share the two stores and run in file order, so revisions stay aligned.
# ----------------------------------------------------------------------------------------------

def test_put_get_del_output_matches(stores):
    for cmd in (["put", "a/1", "x"], ["put", "a/2", "y"], ["put", "b", "z"], ["put", "a/1", "x2", "--prev-kv"],
                ["get", "a", "--prefix"], ["get", "a", "--prefix", "--keys-only"],
                ["get", "a", "--prefix", "-w", "json"], ["get", "", "--prefix", "--keys-only"],
                ["get", "", "--from-key", "--sort-by=MODIFY", "--order=DESCEND", "--print-value-only"],
                ["get", "a", "--prefix", "--limit", "1", "-w", "json"], ["get", "a/1", "--rev", "2"],
                ["get", "a/1", "b", "--keys-only"], ["get", "missing"], ["get", "missing", "-w", "json"],
                ["put", "a/2", "y2", "--prev-kv", "-w", "json"], ["put", "a/2", "--ignore-value"],
                ["del", "a", "--prefix", "--prev-kv"], ["del", "missing"], ["del", "b", "-w", "json"],
                ["get", "", "--prefix", "-w", "json"]):
        same(stores, *cmd)


def test_binary_keys_and_values_from_stdin(stores):
    key = os.fsdecode(b"bin/\x01\xfe")
    same(stores, "put", key, stdin=b"v\x00\xff\nline2")
    same(stores, "get", key)
    same(stores, "get", key, "--hex")
    same(stores, "get", "bin/", "--prefix", "-w", "json")
    same(stores, "put", "k")  # no value and empty stdin: a usage error


def test_errors_match(stores):
    for cmd in (["get", "foo", "--rev", "100000"], ["compaction", "100000"], ["put", "missing", "--ignore-value"],
                ["lease", "revoke", "1234"], ["lease", "keep-alive", "--once", "1234"], ["lease", "timetolive", "1234"],
                ["put", "k", "v", "--lease", "xyz"], ["lease", "grant", "abc"], ["get"], ["del"], ["watch"],
                ["get", "a", "--prefix", "--from-key"], ["get", "a", "--order", "bogus"], ["compaction", "abc"],
                ["put", "k", "v", "--lease", "1234"], ["get", "a", "-w", "table"]):
        same(stores, *cmd)


def test_lease_lifecycle(stores):
    grant(stores, 600)
    lease_ref, lease_sub = (f"{s.leases[-1]:x}" for s in stores)
    # one attached key while timetolive lists them: etcd returns several in Go map order
    _same_with_lease(stores, ["put", "l/1", "v", "--lease", "{}"], ["lease", "keep-alive", "--once", "{}"],
                     ["lease", "keep-alive", "--once", "{}", "-w", "json"], ["lease", "list"],
                     ["get", "l/1", "-w", "json"])
    for fmt in ([], ["-w", "json"]):
        expected = run(stores[0], True, ["lease", "timetolive", lease_ref, "--keys", *fmt])
        actual = run(stores[1], False, ["lease", "timetolive", lease_sub, "--keys", *fmt])
        assert _ttl_free(actual.out) == _ttl_free(expected.out)
        assert _remaining(actual.out) in range(590, 601)
    _same_with_lease(stores, ["put", "l/2", "w", "--lease", "{}"], ["lease", "revoke", "{}"],
                     ["lease", "timetolive", "{}"], ["lease", "revoke", "{}"])
    same(stores, "get", "l/", "--prefix", "-w", "json")


def _same_with_lease(stores: tuple[Store, Store], *commands: list[str]) -> None:
    """Like `same`, with "{}" standing for each side's latest lease ID in hex."""
    for args in commands:
        expected = run(stores[0], True, [a.format(f"{stores[0].leases[-1]:x}") for a in args])
        actual = run(stores[1], False, [a.format(f"{stores[1].leases[-1]:x}") for a in args])
        assert actual == expected, args


def _ttl_free(text: str) -> str:
    return re.sub(r'remaining\(\d+s\)|"ttl":\d+', "<TTL>", text)


def _remaining(text: str) -> int:
    m = re.search(r'remaining\((\d+)s\)|"ttl":(\d+)', text)
    assert m, text
    return int(m.group(1) or m.group(2))


def test_compaction(stores):
    same(stores, "put", "c", "1")
    same(stores, "put", "c", "2")
    head = run(stores[0], True, ["get", "c", "-w", "json"]).out
    rev = int(re.search(r'"revision":(\d+)', head).group(1))
    same(stores, "compaction", str(rev - 1))
    same(stores, "compaction", str(rev - 1), "--physical")
    same(stores, "get", "c", "--rev", str(rev - 2))
    same(stores, "get", "c", "--rev", str(rev - 1))


def test_member_list(stores):
    for fmt in ("simple", "json"):
        same(stores, "member", "list", "-w", fmt)
    expected, actual = both(stores, "member", "list", "-w", "table")
    assert cells(stores[1], actual) == cells(stores[0], expected)


def cells(store: Store, result: Result) -> list[list[str]]:
    return [[store.normalise(c) for c in row] for row in table_cells(result.raw)]


def table_cells(text: str) -> list[list[str]]:
    """A table's cells, after checking it is drawn like tablewriter's (aligned, one width).

    Column widths follow the data (member IDs are printed without leading zeros), so two
    stores' tables are compared cell by cell, and each is checked for a consistent frame.
    """
    lines = text.splitlines()
    assert lines and len({len(line) for line in lines}) == 1, text
    border = lines[0]
    assert border == lines[2] == lines[-1] and re.fullmatch(r"(\+-+)+\+", border), text
    bars = [i for i, ch in enumerate(border) if ch == "+"]
    for line in lines[1:2] + lines[3:-1]:
        assert [i for i, ch in enumerate(line) if ch == "|"] == bars, text
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[1:2] + lines[3:-1]]


def test_endpoint_status_and_health(stores):
    expected, actual = both(stores, "endpoint", "status")
    assert actual.rc == expected.rc == 0
    # version, db size, raft term and indexes belong to the store, not to the client
    assert _status_fields(actual.out) == _status_fields(expected.out)
    expected, actual = both(stores, "endpoint", "status", "-w", "table")
    (ref_header, *ref_rows), (sub_header, *sub_rows) = cells(stores[0], expected), cells(stores[1], actual)
    assert [sub_header] + [_status_fields(", ".join(r)) for r in sub_rows] == \
           [ref_header] + [_status_fields(", ".join(r)) for r in ref_rows]
    expected, actual = both(stores, "endpoint", "status", "-w", "json")
    assert re.sub(r'"Status":.*', "", actual.out) == re.sub(r'"Status":.*', "", expected.out)
    for fmt in (["--cluster"], ["-w", "json"]):
        expected, actual = both(stores, "endpoint", "health", *fmt)
        assert (actual.rc, re.sub(r'"took":"[^"]+"', "", actual.out), actual.err) == \
               (expected.rc, re.sub(r'"took":"[^"]+"', "", expected.out), expected.err)
    expected, actual = both(stores, "endpoint", "health", "-w", "table")
    assert _untimed(cells(stores[1], actual)) == _untimed(cells(stores[0], expected))


def _untimed(rows: list[list[str]]) -> list[list[str]]:
    """Health table rows without the TOOK column's duration."""
    return [r[:2] + [re.sub(r"^[0-9.]+(ns|µs|ms|s)$", "<D>", r[2])] + r[3:] for r in rows]


def _status_fields(line: str) -> list[str]:
    cols = line.rstrip("\n").split(", ")
    return [cols[0], cols[1], cols[4], cols[5], cols[9]]


def test_dead_endpoint_is_skipped(stores):
    """With a dead endpoint first in --endpoints, the command is served by the next one."""
    dead = f"127.0.0.1:{free_port()}"
    expected = run(stores[0], True, ["--endpoints", f"{dead},{stores[0].endpoint}", "get", "c", "-w", "json"])
    actual = run(stores[1], False, ["--endpoints", f"{dead},{stores[1].endpoint}", "get", "c", "-w", "json"])
    assert actual == expected and actual.rc == 0


def test_watch_prints_events_like_etcdctl(stores):
    head = run(stores[0], True, ["get", "w", "-w", "json"]).out
    start = int(re.search(r'"revision":(\d+)', head).group(1)) + 1
    outputs = []
    for store, reference in zip(stores, (True, False)):
        with open(os.devnull, "rb") as devnull:
            watchers = [subprocess.Popen(etcdctl_argv(store, reference, ["watch", "w/", "--prefix", "--prev-kv",
                                                                         "--rev", str(start), *fmt]),
                                         stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         env=_clean_env(), cwd=REPO, start_new_session=True)
                        for fmt in ([], ["-w", "json"])]
        try:
            for cmd in (["put", "w/1", "a"], ["put", "w/1", "b"], ["del", "w/1"], ["put", "w/2", "c"]):
                run(store, reference, cmd)
            simple = _read_until(watchers[0], lambda text: text.count("\n") >= 16)
            as_json = _read_until(watchers[1], lambda text: len(_watch_events(text)) >= 4)
            outputs.append((simple, as_json))
        finally:
            for w in watchers:
                _kill(w)
    (ref_simple, ref_json), (sub_simple, sub_json) = outputs
    assert sub_simple == ref_simple
    # a replay from --rev may come batched in one message, depending on timing: compare events
    assert _watch_events(sub_json) == _watch_events(ref_json)
    assert {tuple(json.loads(line)) for line in sub_json.splitlines()} == \
           {("Header", "Events", "CompactRevision", "Canceled", "Created")}


def _watch_events(text: str) -> list[dict]:
    """The events of every complete JSON line (the last line may still be arriving)."""
    return [ev for line in text.split("\n")[:-1] if line.strip() for ev in json.loads(line)["Events"] or []]


def _read_until(proc: subprocess.Popen, done) -> str:
    """Collect a watcher's output until `done(text)`, failing (not hanging) if it never is."""
    os.set_blocking(proc.stdout.fileno(), False)
    buf = bytearray()

    def enough() -> bool:
        chunk = proc.stdout.read()
        if chunk:
            buf.extend(chunk)
        return done(buf.decode(errors="surrogateescape"))

    try:
        wait_until(enough, 30, interval=0.05, what="watch output")
    except TimeoutError as e:
        raise AssertionError(f"{e}; got {bytes(buf)!r}") from None
    return buf.decode(errors="surrogateescape")
