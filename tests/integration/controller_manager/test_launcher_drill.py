"""The failure drill through `kubeling up` (the launcher starts the controller-manager with the
short flags): kill a node agent with `kubeling kill`, its pods move to the surviving node and
a NodePort Service keeps answering on the survivor's address."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.procs import wait_until

pytestmark = pytest.mark.etcd

APP = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, targetPort: 80}
"""


def kubeling(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "kubeling", *args], env=env, capture_output=True, text=True, timeout=180, check=False)
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("cmup")
    env = dict(os.environ, KUBELING_HOME=str(tmp / "home"), HOME=str(tmp))
    try:
        kubeling(env, "up", "-d", "--name", "cm", "--nodes", "2", "--store-members", "1", "--node-monitor-period", "1s",
                 "--node-monitor-grace-period", "4s", "--pod-eviction-timeout", "5s")
        env["KUBECONFIG"] = kubeling(env, "kubeconfig", "--name", "cm").stdout.strip()
        yield env
    finally:
        # stops exactly the processes this cluster's PID files name
        kubeling(env, "down", "--name", "cm", "--purge", check=False)  # and out of the machine-wide registry


def kubectl(env: dict, *args: str, input: str | None = None) -> str:
    r = subprocess.run(["kubectl", *args], env=env, input=input, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def pods(env: dict) -> list[dict]:
    return [p for p in json.loads(kubectl(env, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
            if not p["metadata"].get("deletionTimestamp")]


def running_on(env: dict) -> dict[str, int] | None:
    ps = pods(env)
    if len(ps) != 4 or not all(p["status"].get("phase") == "Running" for p in ps):
        return None
    out: dict[str, int] = {}
    for p in ps:
        out[p["spec"]["nodeName"]] = out.get(p["spec"]["nodeName"], 0) + 1
    return out


def answers(url: str) -> bool:
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url],
                       capture_output=True, text=True, check=False)
    return r.stdout == "200"


def test_kill_node_moves_pods_and_nodeport_keeps_answering(cluster: dict):
    env = cluster
    # node-1, node-2 and the tainted `controlplane` node that runs the control plane's static pods
    wait_until(lambda: kubectl(env, "get", "nodes").count(" Ready") == 3, 60, interval=0.5, what="3 Ready nodes")
    kubectl(env, "apply", "-f", "-", input=APP)
    spread = wait_until(lambda: running_on(env), 90, interval=0.5, what="4 web pods Running")
    victim = max(spread, key=lambda n: spread[n])
    survivor = "node-1" if victim == "node-2" else "node-2"
    port = json.loads(kubectl(env, "get", "svc", "web", "-o", "json"))["spec"]["ports"][0]["nodePort"]
    ips = {n["metadata"]["name"]: next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
           for n in json.loads(kubectl(env, "get", "nodes", "-o", "json"))["items"]}
    url = f"http://{ips[survivor]}:{port}/"
    wait_until(lambda: answers(url), 30, interval=0.5, what="NodePort answering on the survivor")

    kubeling(env, "kill", victim, "--name", "cm")
    failures = 0

    def moved() -> bool:
        nonlocal failures
        if not answers(url):
            failures += 1
        on = running_on(env)
        return on == {survivor: 4}
    wait_until(moved, 90, interval=0.5, what=f"all pods Running on {survivor}")
    node = json.loads(kubectl(env, "get", "node", victim, "-o", "json"))
    assert {t["key"] for t in node["spec"].get("taints") or []} == {"node.kubernetes.io/unreachable"}
    # while pods on the dead node were still listed as endpoints a request could land there and fail;
    # once they were marked not ready the survivor served every request
    assert answers(url)
    assert failures <= 20, f"{failures} failed requests while the pods moved"
