"""Node IPAM and node lifecycle with real processes: a killed node agent is noticed, tainted and
its pods move to the surviving node; taints go when it comes back. Short flags keep it quick."""
from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.node.cluster import stop_cluster
from tests.support.procs import wait_until

from .conftest import CMCluster, make_cluster

pytestmark = pytest.mark.etcd


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CMCluster]:
    c = make_cluster(tmp_path_factory.mktemp("cmnodes"), "--node-monitor-period", "1s",
                     "--node-monitor-grace-period", "4s", "--node-startup-grace-period", "4s",
                     "--pod-eviction-timeout", "5s")
    try:
        yield c
    finally:
        stop_cluster(c)


def node(kc: CMCluster, name: str) -> dict:
    return kc.get(f"/api/v1/nodes/{name}")


def answers(url: str) -> bool:
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url],
                       capture_output=True, text=True, check=False)
    return r.stdout == "200"


def with_cidr(n: dict) -> dict | None:
    return n if n["spec"].get("podCIDR") else None


def ready_status(n: dict) -> str:
    return next((c["status"] for c in n["status"].get("conditions", []) if c["type"] == "Ready"), "")


def taints(n: dict) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}


def test_ipam_gives_a_node_without_a_range_a_free_podcidr(kc: CMCluster):
    r = kc.http.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}})
    assert r.status_code == 201, r.text
    try:
        n = wait_until(lambda: with_cidr(node(kc, "bare")), 20,
                       what="podCIDR for node bare")
        cidr = ipaddress.ip_network(n["spec"]["podCIDR"])
        assert n["spec"]["podCIDRs"] == [str(cidr)]
        assert cidr.prefixlen == 24 and cidr.subnet_of(ipaddress.ip_network(f"127.{kc.block}.0.0/16"))
        taken = {node(kc, f"node-{i}")["spec"]["podCIDR"] for i in (1, 2)}
        assert str(cidr) not in taken
        # it never reports status: after the startup grace it is Unknown and tainted unreachable
        wait_until(lambda: ready_status(node(kc, "bare")) == "Unknown", 30, what="bare Ready=Unknown")
        wait_until(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in taints(node(kc, "bare")), 30,
                   what="bare tainted unreachable")
    finally:
        kc.http.delete("/api/v1/nodes/bare")


DEPLOY = """
apiVersion: v1
kind: Service
metadata:
  name: spread
spec:
  type: NodePort
  selector: {app: spread}
  ports:
  - {port: 80, targetPort: 80}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: spread
spec:
  replicas: 4
  selector:
    matchLabels: {app: spread}
  template:
    metadata:
      labels: {app: spread}
    spec:
      containers:
      - name: nginx
        image: nginx
"""


def test_killed_node_is_tainted_and_its_pods_move_then_it_recovers(kc: CMCluster):
    kc.apply_yaml(DEPLOY)
    pods = kc.running("app=spread", 4)
    on = {p["spec"]["nodeName"] for p in pods}
    victim = "node-2" if "node-2" in on else "node-1"
    survivor = "node-1" if victim == "node-2" else "node-2"
    moved = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == victim}
    assert moved
    assert not taints(node(kc, victim))
    port = kc.get("/api/v1/namespaces/default/services/spread")["spec"]["ports"][0]["nodePort"]
    url = f"http://{kc.node_ips[survivor]}:{port}/"
    wait_until(lambda: answers(url), 30, what="NodePort answering on the survivor")

    kc.nodes[victim].kill()  # SIGKILL: no goodbye, the lease just stops being renewed
    wait_until(lambda: ready_status(node(kc, victim)) == "Unknown", 20, what=f"{victim} Ready=Unknown")
    n = node(kc, victim)
    ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
    wait_until(lambda: {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")}
               <= taints(node(kc, victim)), 20, what="unreachable taints")
    # its pods are marked not ready, then evicted after the (capped) toleration
    wait_until(lambda: all(p["metadata"].get("deletionTimestamp") or not any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        for p in kc.pods("app=spread") if p["metadata"]["name"] in moved), 20, what="victim's pods not ready")
    wait_until(lambda: all(p["metadata"].get("deletionTimestamp") for p in kc.pods("app=spread")
                           if p["metadata"]["name"] in moved), 30, what="victim's pods evicted")
    live = kc.running("app=spread", 4, timeout=60)
    assert {p["spec"]["nodeName"] for p in live} == {survivor}
    # the survivor's NodePort serves every request once the dead node's pods left the endpoints
    assert all(answers(url) for _ in range(10))
    ev = kc.http.get("/api/v1/namespaces/default/events",
                     params={"fieldSelector": "reason=TaintManagerEviction"}).json()["items"]
    assert {e["involvedObject"]["name"] for e in ev} >= moved

    # the evicted pods stay Terminating (no kubelet to confirm them) until the operator declares
    # the node out of service; then pod GC force-deletes them
    assert all(p["metadata"].get("deletionTimestamp") for p in kc.pods("app=spread") if p["metadata"]["name"] in moved)
    kc.kubectl("taint", "node", victim, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute", check=True)
    wait_until(lambda: not moved & {p["metadata"]["name"] for p in kc.pods("app=spread")}, 30,
               what="terminating pods of the dead node force-deleted")
    kc.kubectl("taint", "node", victim, "node.kubernetes.io/out-of-service-", check=True)

    kc.start_node(victim, int(victim[-1]), "--cpu", "4", "--memory", "8Gi")
    wait_until(lambda: not taints(node(kc, victim)), 30, what=f"{victim} taints removed")
    assert ready_status(node(kc, victim)) == "True"
