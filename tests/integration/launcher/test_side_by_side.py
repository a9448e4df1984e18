"""Clusters that never collide: addresses chosen machine-wide, one `kubeling up` per cluster.

Two clusters in two KUBELING_HOMEs used to take the same ports and node IPs; two `up`s at the
same moment in one home raced each other. Kept light (one node, one store member per cluster):
the machine has two cores.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kubeling.services.launcher.plan import listen_addresses
from kubeling.services.launcher.state import ClusterDir

LIGHT = ("--nodes", "1", "--store-members", "1")


def kubeling(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "kubeling", *args], env=env, capture_output=True, text=True,
                         timeout=240)
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


def start_up(env: dict, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kubeling", "up", "-d", "--name", name, *LIGHT], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=240)
    return proc.returncode, out, err


def kubectl(env: dict, name: str, *args: str) -> subprocess.CompletedProcess:
    kubeconfig = Path(env["KUBELING_HOME"]) / name / "kubeconfig"
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def plan_of(env: dict, name: str):
    return ClusterDir(name, under=Path(env["KUBELING_HOME"])).load()


def loopback_ports(plan) -> set[int]:
    return {port for c in plan.components for host, port in listen_addresses(c) if host == "127.0.0.1"}


def processes_on(data_dir: Path) -> list[int]:
    """PIDs of live processes whose command line names `data_dir` (a store member's)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(data_dir).encode() in cmd and state != "Z":
            pids.append(int(entry))
    return pids


@pytest.fixture
def homes(tmp_path):
    """Environments with their own KUBELING_HOME; every cluster made in them is purged at the end
    (`down` stops exactly the processes its PID files name)."""
    made: list[dict] = []

    def make(label: str) -> dict:
        env = dict(os.environ, KUBELING_HOME=str(tmp_path / label / "home"), HOME=str(tmp_path / label))
        made.append(env)
        return env

    yield make
    for env in made:
        home = Path(env["KUBELING_HOME"])
        for plan in home.glob("*/cluster.json"):
            kubeling(env, "down", "--name", plan.parent.name, "--purge", check=False)


def test_two_homes_run_side_by_side_and_each_kubectl_reaches_its_own(homes):
    a, b = homes("a"), homes("b")
    runs = [start_up(a, "t"), start_up(b, "t")]  # same name, two homes, the same moment
    (rc_a, out_a, err_a), (rc_b, out_b, err_b) = finish(runs[0]), finish(runs[1])
    assert rc_a == 0, out_a + err_a
    assert rc_b == 0, out_b + err_b
    blocks = [re.search(r"Address block (\d+):", out).group(1) for out in (out_a, out_b)]
    assert blocks[0] != blocks[1], (out_a, out_b)
    plan_a, plan_b = plan_of(a, "t"), plan_of(b, "t")
    assert plan_a.api_url != plan_b.api_url
    assert not loopback_ports(plan_a) & loopback_ports(plan_b)
    assert set(plan_a.node_ips.values()).isdisjoint(plan_b.node_ips.values())
    # each kubectl talks to its own cluster: a namespace made in one is not in the other
    assert kubectl(a, "t", "create", "namespace", "only-in-a").returncode == 0
    assert kubectl(a, "t", "get", "namespace", "only-in-a", "-o", "name").stdout.strip() == "namespace/only-in-a"
    other = kubectl(b, "t", "get", "namespace", "only-in-a")
    assert other.returncode != 0 and "NotFound" in other.stderr, other.stdout + other.stderr
    for env, plan in ((a, plan_a), (b, plan_b)):
        nodes = json.loads(kubectl(env, "t", "get", "nodes", "-o", "json").stdout)["items"]
        ips = {addr["address"] for n in nodes for addr in n["status"]["addresses"] if addr["type"] == "InternalIP"}
        assert ips == set(plan.node_ips.values())


def test_two_ups_of_one_cluster_at_the_same_moment_start_it_once(homes):
    env = homes("one")
    results = [finish(p) for p in [start_up(env, "t"), start_up(env, "t")]]
    assert sorted(rc for rc, _, _ in results) == [0, 1], results
    (_, _, refused), = [(rc, out, err) for rc, out, err in results if rc == 1]
    assert "already" in refused and "Traceback" not in refused, refused
    # one copy of each component: a single process on the store member's data dir, all healthy
    data = Path(env["KUBELING_HOME"]) / "t" / "data" / "etcd-0"
    assert len(processes_on(data)) == 1
    status = json.loads(kubeling(env, "status", "--name", "t", "-o", "json").stdout)
    assert all(c["pid"] for c in status["components"]), status["components"]
    # and once it runs, another `up` says so and changes nothing
    again = kubeling(env, "up", "-d", "--name", "t", check=False)
    assert again.returncode == 1 and "already running" in again.stderr, again.stderr
    assert len(processes_on(data)) == 1


def test_two_ups_of_different_clusters_in_one_home_at_the_same_moment(homes):
    env = homes("two")
    results = [finish(p) for p in [start_up(env, "x"), start_up(env, "y")]]
    assert [rc for rc, _, _ in results] == [0, 0], results
    x, y = plan_of(env, "x"), plan_of(env, "y")
    assert x.settings["address_block"] != y.settings["address_block"]
    assert not loopback_ports(x) & loopback_ports(y)
    for name in ("x", "y"):
        assert kubectl(env, name, "get", "namespace", "kube-system", "-o", "name").returncode == 0


def test_a_recorded_address_taken_meanwhile_is_named_and_nothing_starts(homes):
    env = homes("taken")
    kubeling(env, "up", "-d", "--name", "t", *LIGHT)
    kubeling(env, "down", "--name", "t")
    plan = plan_of(env, "t")
    port = int(plan.api_url.rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        run = kubeling(env, "up", "-d", "--name", "t", check=False)
        assert run.returncode == 1, run.stdout + run.stderr
        assert f"127.0.0.1:{port} (kube-apiserver-0)" in run.stderr and "nothing was started" in run.stderr
        assert not processes_on(Path(env["KUBELING_HOME"]) / "t" / "data" / "etcd-0")
        status = json.loads(kubeling(env, "status", "--name", "t", "-o", "json", check=False).stdout)
        assert not any(c["pid"] for c in status["components"])
    kubeling(env, "up", "-d", "--name", "t")  # free again: the same addresses
    assert plan_of(env, "t").api_url == plan.api_url
