"""A control-plane process as the container of its static pod: the kubelet keeps it running.

On a kubeadm node the kubelet restarts a static pod's container whenever it exits. That is what
heals the control plane after an apiserver outage: kube-scheduler and kube-controller-manager
exit when they cannot renew their leader Lease (upstream's "leaderelection lost"), and their
pods come back with RESTARTS 1. `kubeling up` runs those components as host processes, and the
`controlplane` node agent's container for each (program.py's `_component`) plays the container's
part through this module:

- when the container starts and the process is not running, it starts it, with the command line
  the launcher recorded (`procs.start`, as `kubeling start` does);
- when the process exits while the container runs, the container exits with an error, and the
  kubelet restarts it with its usual back-off (10 s, doubling), which starts the process again;
- a process the user stopped (`kubeling kill`, `down`, `restart`) is left alone, as Docker leaves
  a container stopped by hand: drills that kill a store member keep it down until
  `kubeling start`. The container then only stands for it, and its probes show it down.

Stopping the container (the pod deleted, the node agent stopping) does not stop the process:
`kubeling down` stops processes, the controlplane node agent first.
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from . import procs
from .state import ClusterDir

log = logging.getLogger("kubelet.static")

POLL_SECONDS = 1.0  # how often a running container checks its process (kubelet's PLEG relists every 1 s)


async def run(home: str, cluster: str, component: str, terminating: asyncio.Event) -> int:
    """Keep `component` of the cluster under `home` running while the container runs; the
    container's exit code: 0 once stopped, 1 when the process exited by itself."""
    cdir = ClusterDir(cluster, Path(home))
    comp = cdir.load().get(component)
    started: int | None = None
    if procs.running_pid(cdir, comp) is None and not procs.stopped_by_user(cdir, comp):
        started = procs.start(cdir, comp)
        log.info("started control-plane process", extra={"component": component, "pid": started})
    while True:
        try:
            await asyncio.wait_for(terminating.wait(), POLL_SECONDS)
            return 0
        except asyncio.TimeoutError:
            pass
        if procs.running_pid(cdir, comp) is None and not procs.stopped_by_user(cdir, comp):
            code = _reap(started)
            log.warning("control-plane process exited", extra={"component": component, "exitCode": code})
            return code


def _reap(pid: int | None) -> int:
    """The exit code of a process this agent started (reaping it, so no zombie stays behind), in
    the container runtime's form (128 + signal when killed); 1 for one the launcher started."""
    if pid is None:
        return 1
    try:
        _, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # already reaped (subprocess's own clean-up)
        return 1
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
