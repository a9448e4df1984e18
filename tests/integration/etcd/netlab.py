"""Network namespaces for partition tests: one per store member, joined by veth pairs to a hub
namespace that routes between them, so each member has an address of its own and links between
members can be cut one by one while clients (in the hub) still reach every member.

Why namespaces: on loopback every member's outgoing connections leave from 127.0.0.1, whoever
makes them, so no packet filter can tell members apart. Here member i is 10.231.<i+1>.2 inside
its own namespace (addresses that exist only inside namespaces this module made).

A cut is a pair of `ip rule ... blackhole` policy rules in the hub (one per direction): routed
packets between the two members are dropped silently, as a lost link drops them (the sender sees
no error, its SYNs and data are retransmitted into the void), and clients are not affected. No
iptables is needed. Everything lives in the namespaces, so `destroy()` (deleting them) removes
every address, link and rule this module added; nothing in the machine's own namespace changes.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000  # <linux/sched.h>


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def available() -> str | None:
    """Why this machine cannot run the lab, or None if it can (root, `ip`, network namespaces)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"klprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
        _ip("-n", probe, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
    except (OSError, subprocess.CalledProcessError) as e:
        return f"cannot create a network namespace with a veth pair: {getattr(e, 'stderr', e)}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class NetLab:
    """`size` member namespaces around a hub namespace; see the module docstring."""

    def __init__(self, size: int, tag: str | None = None) -> None:
        self.size = size
        self.tag = tag or f"klp{os.getpid()}"
        self.hub = f"{self.tag}-hub"
        self.members = [f"{self.tag}-m{i}" for i in range(size)]
        self.addresses = [f"10.231.{i + 1}.2" for i in range(size)]
        self._created: list[str] = []
        self._rules: list[tuple[str, str]] = []
        self._procs: list[subprocess.Popen] = []

    # ------------------------------------------------------------ lifecycle

    def create(self) -> "NetLab":
        try:
            self._add_ns(self.hub)
            _ip("netns", "exec", self.hub, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            for i, ns in enumerate(self.members):
                self._add_ns(ns)
                veth = f"v{i}"
                _ip("-n", self.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
                _ip("-n", self.hub, "addr", "add", f"10.231.{i + 1}.1/24", "dev", veth)
                _ip("-n", self.hub, "link", "set", veth, "up")
                _ip("-n", ns, "addr", "add", f"{self.addresses[i]}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", ns, "route", "add", "default", "via", f"10.231.{i + 1}.1")
        except BaseException:
            self.destroy()
            raise
        return self

    def _add_ns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def destroy(self) -> None:
        """Stop what this lab started (by PID) and delete its namespaces, rules and links with them."""
        for p in self._procs:
            stop_process(p)
        self._procs.clear()
        for ns in reversed(self._created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self._created.clear()
        self._rules.clear()

    # ------------------------------------------------------------ processes

    def start(self, member: int, argv: list[str], log: Path, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        """Run `argv` inside member's namespace (`ip netns exec` execs it: the PID is the program's)."""
        with open(log, "ab") as out:
            p = subprocess.Popen(["ip", "netns", "exec", self.members[member], *argv], stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd,
                                 env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
        self._procs.append(p)
        return p

    def run_in_hub(self, fn: Callable[[], T]) -> T:
        """Call `fn` on a thread that has entered the hub namespace: every socket it opens is there,
        where all members are reachable whatever links are cut."""
        box: dict[str, object] = {}

        def target() -> None:
            try:
                enter_netns(self.hub)
                box["value"] = fn()
            except BaseException as e:  # handed to the caller
                box["error"] = e

        t = threading.Thread(target=target, name=f"{self.hub}-clients")
        t.start()
        t.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]

    # ------------------------------------------------------------ faults

    def cut(self, a: int, b: int) -> None:
        """Drop every packet between members a and b, both ways."""
        for src, dst in ((a, b), (b, a)):
            rule = (self.addresses[src], self.addresses[dst])
            _ip("-n", self.hub, "rule", "add", "from", rule[0], "to", rule[1], "blackhole")
            self._rules.append(rule)

    def isolate(self, member: int) -> None:
        for other in range(self.size):
            if other != member:
                self.cut(member, other)

    def heal(self) -> None:
        while self._rules:
            src, dst = self._rules.pop()
            _ip("-n", self.hub, "rule", "del", "from", src, "to", dst, "blackhole")

    @property
    def cuts(self) -> list[tuple[str, str]]:
        return list(self._rules)


def enter_netns(name: str) -> None:
    """Move the calling thread (only it) into network namespace `name` (setns(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def stop_process(p: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL; only this PID."""
    if p.poll() is not None:
        return
    try:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=timeout)
    except ProcessLookupError:
        pass
