"""`kubeling up -d` / status / kill / start / down against real processes (issue 6's launcher)."""
from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys

import httpx
import pytest

from tests.support.procs import wait_until


def kubeling(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "kubeling", *args], env=env, capture_output=True, text=True,
                         timeout=180)
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


@pytest.fixture
def cluster_env(tmp_path):
    env = dict(os.environ, KUBELING_HOME=str(tmp_path / "home"), HOME=str(tmp_path))
    yield env
    # Stops exactly the processes this cluster's PID files name (started by this test).
    kubeling(env, "down", "--name", "t", "--purge", check=False)  # and out of the machine-wide registry


def status(env: dict) -> dict:
    return json.loads(kubeling(env, "status", "--name", "t", "-o", "json", check=False).stdout)


def test_up_status_kill_start_down(cluster_env):
    env = cluster_env
    out = kubeling(env, "up", "-d", "--name", "t", "--nodes", "2").stdout
    assert "kubectl get nodes" in out
    # secure by default, as kubeadm: HTTPS with the cluster's CA, and no anonymous API access
    api = status(env)["api"]
    ca = os.path.join(env["KUBELING_HOME"], "t", "pki", "ca.crt")
    assert api.startswith("https://")
    assert httpx.get(api + "/api/v1/namespaces", verify=ssl.create_default_context(cafile=ca), timeout=10).status_code == 401
    st = status(env)
    comps = {c["name"]: c for c in st["components"]}
    assert {"etcd-0", "etcd-1", "etcd-2", "kube-apiserver-0"} <= set(comps)
    assert all(c["pid"] for c in comps.values()), comps
    assert st["raft"]["leader"] in ("etcd-0", "etcd-1", "etcd-2")
    kubeconfig = kubeling(env, "kubeconfig", "--name", "t").stdout.strip()
    get = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert "namespace/kube-system" in get.stdout, get.stderr

    leader = st["raft"]["leader"]
    kubeling(env, "kill", leader, "--name", "t")
    wait_until(lambda: not {c["name"]: c for c in status(env)["components"]}[leader]["pid"], 20,
               what=f"{leader} reported down")
    # the store elects a new leader among the survivors and the API keeps serving
    wait_until(lambda: status(env)["raft"].get("leader") not in (None, leader), 30, what="a new store leader")
    raw = ["kubectl", "--kubeconfig", kubeconfig, "get", "--raw", "/api/v1/namespaces"]
    wait_until(lambda: subprocess.run(raw, capture_output=True, env=env, timeout=30).returncode == 0, 30,
               what="API serving")
    kubeling(env, "start", leader, "--name", "t")
    wait_until(lambda: {c["name"]: c for c in status(env)["components"]}[leader]["healthy"], 90,
               what=f"{leader} healthy again")

    pids = [c["pid"] for c in status(env)["components"] if c["pid"]]
    kubeling(env, "down", "--name", "t")
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"
    assert all(not c["pid"] for c in status(env)["components"])


def test_demo_failover_kills_a_node_and_the_store_leader_and_the_cluster_heals(cluster_env):
    env = cluster_env
    kubeling(env, "up", "-d", "--name", "t", "--node-monitor-grace-period", "4s", "--pod-eviction-timeout", "5s")
    run = kubeling(env, "demo", "failover", "--name", "t", "--timeout", "90", check=False)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    for step in ("killed node agent", "is NotReady", "replacement pods Running", "killed the store's Raft leader",
                 "store elected", "after recovery: 30/30 requests succeeded"):
        assert step in out, f"missing {step!r} in:\n{out}"
    st = status(env)
    assert all(c["pid"] for c in st["components"]), st["components"]  # the killed components run again
