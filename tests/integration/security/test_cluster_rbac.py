"""The whole cluster under `--authorization-mode=Node,RBAC` + NodeRestriction over TLS, each
component with its own identity (a token per component, upstream's user names): the scheduler,
the controller-manager and two node agents do their jobs with only the rights the bootstrap policy
and the Node authorizer give them - a Deployment's pods end up Running on both nodes - and none of
them was refused anything along the way."""
from __future__ import annotations

import json
import os
import random

import httpx

from tests.integration.node.cluster import free_udp_port
from tests.support.procs import Proc, free_port, wait_until

from .conftest import SecureCluster


def _start(secure: SecureCluster, name: str, args: list[str], health: str) -> Proc:
    p = secure.group.start(name, args)

    def healthy() -> bool:
        if not p.alive():
            raise RuntimeError(f"{name} exited:\n{p.log_tail()}")
        return httpx.get(health, timeout=2).status_code == 200
    wait_until(healthy, timeout=30, what=f"{name} healthy")
    return p


def test_components_work_under_rbac_with_their_own_identities(secure: SecureCluster) -> None:
    block = random.Random(os.getpid() ^ int.from_bytes(os.urandom(2), "big")).randint(100, 230)
    sched_port, cm_port = free_port(), free_port()
    procs = [
        _start(secure, "scheduler", ["scheduler", "--kubeconfig", str(secure.kubeconfig("scheduler", token="scheduler-token")),
                                     "--secure-port", str(sched_port)], f"http://127.0.0.1:{sched_port}/healthz"),
        _start(secure, "controller-manager", ["controller-manager", "--kubeconfig", str(secure.kubeconfig("cm", token="cm-token")),
                                              "--secure-port", str(cm_port), "--cluster-cidr", f"127.{block}.0.0/16"],
               f"http://127.0.0.1:{cm_port}/healthz"),
    ]
    for i in (1, 2):
        ip = f"127.{block}.0.{i}"
        port = free_port(ip)
        procs.append(_start(secure, f"e2e-{i}", [
            "node", "--node-name", f"e2e-{i}", "--kubeconfig", str(secure.kubeconfig(f"e2e-{i}", token=f"e2e-{i}-token")),
            "--node-ip", ip, "--kubelet-port", str(port), "--pod-cidr", f"127.{block}.{i}.0/24",
            "--dns-port", str(free_udp_port(ip)), "--node-status-update-frequency", "2"], f"http://{ip}:{port}/healthz"))
    admin = secure.admin  # type: ignore[attr-defined]

    def ready(node: str) -> bool:
        r = admin.get(f"/api/v1/nodes/{node}")
        return r.status_code == 200 and any(c["type"] == "Ready" and c["status"] == "True" for c in r.json()["status"].get("conditions", []))
    wait_until(lambda: ready("e2e-1") and ready("e2e-2"), timeout=30, what="both nodes Ready")
    kc = secure.kubeconfig("admin", token="admin-token")
    secure.kubectl(kc, "create", "namespace", "e2e", check=True)
    # the pods may only go to this test's nodes (other tests' Node objects have no agents)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "e2e"},
                  "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "nginx", "image": "nginx"}],
                                                 "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                                                     "nodeSelectorTerms": [{"matchExpressions": [{
                                                         "key": "kubernetes.io/hostname", "operator": "In",
                                                         "values": ["e2e-1", "e2e-2"]}]}]}}}}}}}
    secure.kubectl(kc, "apply", "-f", "-", input=json.dumps(deployment), check=True)

    def running() -> list[dict]:
        pods = admin.get("/api/v1/namespaces/e2e/pods", params={"labelSelector": "app=web"}).json()["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ok = [p for p in live if p["status"].get("phase") == "Running" and p["spec"].get("nodeName") in ("e2e-1", "e2e-2")]
        return ok if len(ok) == 4 and len(live) == 4 else []
    pods = wait_until(running, timeout=60, what="4 pods of the Deployment Running")
    assert {p["spec"]["nodeName"] for p in pods} == {"e2e-1", "e2e-2"}
    wait_until(lambda: admin.get("/apis/apps/v1/namespaces/e2e/deployments/web").json()["status"].get("availableReplicas") == 4,
               timeout=30, what="Deployment status updated by the controller-manager")
    # the node leases and the leader-election leases were written by their owners
    assert admin.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/e2e-1").status_code == 200
    holder = admin.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler").json()["spec"]["holderIdentity"]
    assert holder
    # kubectl exec (WebSocket) is authorized as `create pods/exec`: the admin may, a pod reader may not
    pod = pods[0]["metadata"]["name"]
    out = secure.kubectl(kc, "exec", "-n", "e2e", pod, "--", "echo", "hello-from-exec", check=True).stdout
    assert "hello-from-exec" in out
    pair = secure.ca.issue("kubernetes-admin", orgs=("system:masters",), client=True)  # X.509 over the WebSocket too
    out = secure.kubectl(secure.kubeconfig("admin-cert", cert_pem=pair.cert, key_pem=pair.key),
                         "exec", "-n", "e2e", pod, "--", "echo", "cert-exec", check=True).stdout
    assert "cert-exec" in out
    secure.kubectl(kc, "create", "role", "reader", "-n", "e2e", "--verb=get,list", "--resource=pods", check=True)
    secure.kubectl(kc, "create", "rolebinding", "alice-reads", "-n", "e2e", "--role=reader", "--user=alice", check=True)
    alice = secure.kubeconfig("alice", token="alice-token")
    wait_until(lambda: secure.kubectl(alice, "get", "pod", pod, "-n", "e2e", check=True).returncode == 0, timeout=10, what="alice reads pods")
    r = secure.kubectl(alice, "exec", "-n", "e2e", pod, "--", "echo", "nope")
    assert r.returncode != 0 and "hello" not in r.stdout
    assert 'cannot create resource "pods/exec" in API group "" in the namespace "e2e"' in r.stderr, r.stderr
    # least privilege held without a single refusal
    for p in procs:
        log = p.log_path.read_text(errors="replace")
        assert "forbidden" not in log.lower(), f"{p.name} was refused something:\n{p.log_tail(60)}"
