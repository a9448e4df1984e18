"""Start and stop 3-member store clusters for the benchmarks: kubeling's store or a real etcd.

Both kinds take the same etcd flags, each member is its own process on 127.0.0.1 with free
ports and a fresh data dir, and only the PIDs started here are ever signalled. Benchmarks
must compare like with like, so both kinds are built from one description (`Cluster`).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("kubeling", "etcd-nofsync", "etcd")
REPO = Path(__file__).resolve().parents[1]


def provenance() -> dict:
    """Which store code was measured: the commit, and whether services/etcd differed from it.

    The checkout is shared with people editing it, so a result names the exact code it ran.
    """
    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return run.stdout.strip()

    return {"utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git("rev-parse", "HEAD"),
            "store_changes_not_committed": git("status", "--porcelain", "--", "services/etcd").splitlines(),
            "loadavg": list(os.getloadavg())}


def sh(*args: str, env: dict | None = None, check: bool = True, timeout: float = 600) -> str:
    """Run a command (kubeling, kubectl, git), return its stdout; fail loudly with its output."""
    r = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{args}: rc={r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, path: str, body: dict | None = None, timeout: float = 2.0) -> dict:
    """One gateway call with the stdlib (the bench's own HTTP stays out of the measured client)."""
    req = urllib.request.Request(url + path, data=json.dumps(body or {}).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"{}")


def wait_for(cond, timeout: float, what: str, interval: float = 0.05):
    """Poll until `cond()` is truthy; a deadline, never a bare sleep, decides when to give up."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = cond()
            if value:
                return value
        except (OSError, ValueError, KeyError, urllib.error.URLError) as e:
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}" + (f" ({last!r})" if last else ""))


def pin_store(rev: str, dest: Path) -> tuple[Path, str]:
    """Export commit `rev` of kubeling into `dest` as an importable tree; returns (tree, commit).

    The checkout is edited while benchmarks run, so a long benchmark measures one fixed commit:
    `git archive` of kubeling/, services/ and shared/, with services/ and shared/ linked under
    the kubeling package as the installed package maps them. Members run with cwd and
    PYTHONPATH at that tree, ahead of the editable install of the live checkout.
    """
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", commit, "kubeling", "services", "shared"], cwd=REPO, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for sub in ("services", "shared"):
        (dest / "kubeling" / sub).symlink_to(Path("..") / sub)
    return dest, commit


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    """A fresh N-member cluster of one kind under `base_dir`."""

    kind: str
    base_dir: Path
    size: int = 3
    store_tree: Path | None = None  # a tree from pin_store; None runs the installed (live) checkout
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.members = [Member(f"m{i}", free_port(), free_port(), self.base_dir / f"m{i}") for i in range(self.size)]
        self.peer_secret = self.base_dir / "peer-secret"
        if self.kind == "kubeling" and not self.peer_secret.exists():
            # kubeling members with peers need a shared secret file (mode 0600 from creation). Hex
            # text, so that a pinned older tree, which read the file as text, takes it too.
            fd = os.open(self.peer_secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))

    @property
    def endpoints(self) -> list[str]:
        return [m.url for m in self.members]

    def command(self, m: Member) -> list[str]:
        initial = ",".join(f"{x.name}=http://127.0.0.1:{x.peer_port}" for x in self.members)
        flags = ["--name", m.name, "--data-dir", str(m.data_dir), "--listen-client-urls", m.url,
                 "--advertise-client-urls", m.url, "--listen-peer-urls", f"http://127.0.0.1:{m.peer_port}",
                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{m.peer_port}", "--initial-cluster", initial,
                 "--initial-cluster-token", f"bench-{self.base_dir.name}", "--initial-cluster-state", "new"]
        if self.kind == "kubeling":
            return [sys.executable, "-m", "kubeling", "etcd", *flags, "--peer-secret-file", str(self.peer_secret)]
        return ["etcd", *flags, *(["--unsafe-no-fsync"] if self.kind == "etcd-nofsync" else [])]

    def start_member(self, i: int) -> None:
        m = self.members[i]
        env, cwd = None, None
        if self.kind == "kubeling" and self.store_tree is not None:
            env, cwd = dict(os.environ, PYTHONPATH=str(self.store_tree)), self.store_tree
        with open(self.base_dir / f"{m.name}.log", "ab") as log:
            m.proc = subprocess.Popen(self.command(m), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    def start(self, timeout: float = 60.0) -> "Cluster":
        for i in range(self.size):
            self.start_member(i)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> int:
        """Every live member serves a linearizable read and all agree on one leader; its index."""
        live = [i for i, m in enumerate(self.members) if m.alive()]
        for i in live:
            wait_for(lambda i=i: post(self.members[i].url, "/v3/kv/range", {"key": "AA=="}), timeout,
                     f"{self.members[i].name} serving ({self.log_tail(i)})")
        return wait_for(lambda: self.agreed_leader(live), timeout, "an agreed leader") - 1

    def agreed_leader(self, among: list[int]) -> int | None:
        """The leader's index + 1 (truthy) when every member in `among` names the same leader."""
        statuses = [post(self.members[i].url, "/v3/maintenance/status", timeout=1.0) for i in among]
        leaders = {s.get("leader") for s in statuses}
        if len(leaders) != 1 or None in leaders:
            return None
        for i, s in zip(among, statuses):
            if s["header"]["member_id"] == s["leader"]:
                return i + 1
        return None

    def leader(self) -> int:
        """The current leader's index: the member whose status says leader == its own member_id."""
        return self.wait_ready(30.0)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        m = self.members[i]
        if m.alive():
            os.kill(m.proc.pid, sig)
            m.proc.wait(timeout=30)

    def stop(self) -> None:
        """Kill every member this object started (by PID), whatever state it is in."""
        for i in range(self.size):
            try:
                self.kill(i)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass

    def log_tail(self, i: int, n: int = 3) -> str:
        try:
            lines = (self.base_dir / f"{self.members[i].name}.log").read_text(errors="replace").splitlines()
            return " | ".join(lines[-n:])
        except OSError:
            return ""
