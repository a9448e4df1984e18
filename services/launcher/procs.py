"""Start and stop a cluster's components as detached processes, tracked by PID files.

A component is "ours" only if its PID file exists and the process with that PID still runs
`kubeling <its args>`; a reused PID belonging to something else is never signalled.

A component the user stopped (`kubeling kill`, `down`, `restart`) is marked so, as Docker marks a
container stopped by hand: the controlplane node's kubelet restarts a control-plane process that
exited by itself (services/launcher/staticproc.py), never one a drill killed. Starting it again
clears the mark.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .state import ClusterDir, Component


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def running_pid(cdir: ClusterDir, comp: Component) -> int | None:
    pid = cdir.pid(comp.name)
    if pid is None:
        return None
    cmd = _cmdline(pid)
    # `python -m kubeling <args...>`: compare the component's own arguments.
    if "kubeling" in cmd and cmd[cmd.index("kubeling") + 1: cmd.index("kubeling") + 1 + len(comp.args)] == comp.args:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return None
        return None if state == "Z" else pid
    return None


def stopped_by_user(cdir: ClusterDir, comp: Component) -> bool:
    return cdir.stopped_path(comp.name).exists()


def start(cdir: ClusterDir, comp: Component) -> int:
    cdir.stopped_path(comp.name).unlink(missing_ok=True)
    pid = running_pid(cdir, comp)
    if pid is not None:
        return pid
    log = open(cdir.log_path(comp.name), "ab")
    proc = subprocess.Popen([sys.executable, "-m", "kubeling", *comp.args], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    log.close()
    cdir.pid_path(comp.name).write_text(str(proc.pid))
    return proc.pid


def signal_component(cdir: ClusterDir, comp: Component, sig: int) -> bool:
    pid = running_pid(cdir, comp)
    if pid is None:
        return False
    os.kill(pid, sig)
    return True


def kill(cdir: ClusterDir, comp: Component) -> bool:
    """SIGKILL, as a failure drill: the component stays down until started again."""
    cdir.stopped_path(comp.name).touch()
    return signal_component(cdir, comp, signal.SIGKILL)


def stop(cdir: ClusterDir, comps: list[Component], timeout: float = 10.0) -> None:
    """SIGTERM every component, then SIGKILL whatever is still running after `timeout`."""
    for comp in comps:  # first, so no kubelet restarts one that the others' stopping ends
        cdir.stopped_path(comp.name).touch()
    for comp in comps:
        signal_component(cdir, comp, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(running_pid(cdir, c) for c in comps):
        time.sleep(0.1)
    for comp in comps:
        signal_component(cdir, comp, signal.SIGKILL)
    for comp in comps:
        if running_pid(cdir, comp) is None:
            cdir.pid_path(comp.name).unlink(missing_ok=True)
