"""Machine-wide choice of a cluster's addresses, and one `kubeling up` per cluster at a time.

A cluster's plan (plan.py) takes an address block (node IPs, pod and Service ranges) and a port
for every listener. Chosen per KUBELING_HOME, two clusters in different homes (two users, or a
test beside a user's cluster) both took 127.0.0.1:6443, 2379 and the same node IPs: the second
one's store members failed with "address already in use" and its components reached the first
cluster's servers. So the choice is made for the whole machine:

- `machine_lock()` serialises it: an exclusive flock on `lock` in this user's runtime directory
  (`$TMPDIR/kubeling-<uid>`, mode 0700, refused if anyone else owns it or may write to it),
  held while a plan is chosen and saved, so two `kubeling up` started at the same moment never
  pick the same block or port;
- the registry (`clusters` in that directory) lists the home directory of every cluster this
  user made on this machine, whatever its KUBELING_HOME, so a stopped cluster keeps its block and
  ports (its plan records them), and another home's clusters are known;
- everything else is probed: a block or port is taken only if a test bind of every address the
  plan would listen on succeeds (plan.py `port_free`), which is what keeps two *users* apart,
  whose registries are private to each. (A stopped cluster of another user is not seen; if its
  addresses are taken meanwhile, its next `up` says so and starts nothing, `conflicts`.)

`cluster_lock()` is the other guard: `kubeling up` holds an exclusive flock on the cluster's
`up.lock` for as long as it runs, so a second `up` of the same cluster refuses at once instead
of starting a second copy of each component.
"""
from __future__ import annotations

import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .plan import Taken, block_of, listen_addresses, port_free
from .state import ClusterDir, Plan, known_clusters


class ReservationError(RuntimeError):
    """Why `kubeling up` starts nothing: an unsafe runtime directory, a cluster already running, its
    recorded addresses held by something else, or no free block left."""


def runtime_dir() -> Path:
    """This user's machine-wide directory; made private, refused if someone else could tamper."""
    path = Path(tempfile.gettempdir()) / f"kubeling-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise ReservationError(f"{path} is not a directory owned by this user and writable by it alone; "
                               f"remove it and run again")
    return path


@contextmanager
def machine_lock() -> Iterator[None]:
    """Held while a cluster's addresses are chosen and recorded (blocks until it is free: the
    holder only plans, which takes a fraction of a second)."""
    fd = os.open(runtime_dir() / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class ClusterBusy(RuntimeError):
    """Another `kubeling up` of the same cluster is running."""


@contextmanager
def cluster_lock(cdir: ClusterDir) -> Iterator[None]:
    """Held by `kubeling up` for as long as it runs; a second one refuses (ClusterBusy)."""
    cdir.root.mkdir(parents=True, exist_ok=True)
    path = cdir.root / "up.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise ClusterBusy(f"cluster '{cdir.name}' is already being started or run by another "
                              f"`kubeling up` (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------ the registry

def _registry_path() -> Path:
    return runtime_dir() / "clusters"


def _registered() -> list[Path]:
    try:
        return [Path(p) for p in json.loads(_registry_path().read_text())]
    except (OSError, ValueError):
        return []


def _write_registry(roots: list[Path]) -> None:
    path = _registry_path()
    tmp = path.with_name(f".clusters.{os.getpid()}")
    tmp.write_text(json.dumps(sorted({str(r) for r in roots}), indent=1))
    os.replace(tmp, path)


def _plan_at(root: Path) -> Plan | None:
    cdir = ClusterDir(root.name, under=root.parent)
    try:
        return cdir.load() if cdir.exists() else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def taken_by_others(me: ClusterDir) -> Taken:
    """Blocks and addresses of every other cluster known on this machine: the registry's, and
    this home's (clusters made before the registry existed). Call under `machine_lock()`."""
    mine = me.root.resolve()
    roots = {r for r in _registered()} | {ClusterDir(n).root.resolve() for n in known_clusters()}
    blocks: set[int] = set()
    addresses: set[tuple[str, int]] = set()
    for root in roots:
        if root == mine:
            continue
        plan = _plan_at(root)
        if plan is None:
            continue
        blocks.add(block_of(plan))
        for comp in plan.components:
            addresses.update(listen_addresses(comp))
    return Taken(frozenset(blocks), frozenset(addresses))


def record(cdir: ClusterDir) -> None:
    """Add the cluster to the registry and drop clusters whose plan is gone (purged, or a test's
    temporary home removed). Call under `machine_lock()`, after saving the plan."""
    roots = [r for r in _registered() if (r / "cluster.json").exists()]
    _write_registry([*roots, cdir.root.resolve()])


def forget(cdir: ClusterDir) -> None:
    """Take a purged cluster out of the registry."""
    with machine_lock():
        mine = cdir.root.resolve()
        _write_registry([r for r in _registered() if r != mine and (r / "cluster.json").exists()])


def conflicts(plan: Plan, taken: Taken, running: set[str]) -> list[str]:
    """What stops a recorded plan from starting again: addresses of its components that are not
    running (those that run hold their own addresses) which another cluster's plan names, or
    which something on this machine holds now."""
    found = []
    for comp in plan.components:
        if comp.name in running:
            continue
        for host, port in listen_addresses(comp):
            if (host, port) in taken.addresses:
                found.append(f"{host}:{port} ({comp.name}): in another kubeling cluster's plan")
            elif not port_free(port, host):
                found.append(f"{host}:{port} ({comp.name}): in use by another process")
    return found
