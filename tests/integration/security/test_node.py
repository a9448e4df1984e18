"""The Node authorizer and NodeRestriction: a node agent (system:node:<name>) changes only its own
Node, its own Lease and the pods bound to it, and reads only the secrets its pods use."""
from __future__ import annotations

from typing import Any

import httpx

from tests.support.procs import wait_until

from .conftest import SecureCluster


def _pod(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}], **spec}}


def _status_patch(c: httpx.Client, name: str) -> httpx.Response:
    return c.patch(f"/api/v1/namespaces/nodes-test/pods/{name}/status", json={"status": {"message": "hello"}},
                   headers={"Content-Type": "application/merge-patch+json"})


def test_node_changes_only_its_own_pods(secure: SecureCluster) -> None:
    admin = secure.admin  # type: ignore[attr-defined]
    assert admin.post("/api/v1/namespaces", json={"metadata": {"name": "nodes-test"}}).status_code == 201
    assert admin.post("/api/v1/namespaces/nodes-test/pods", json=_pod("on-a", "node-a")).status_code == 201
    assert admin.post("/api/v1/namespaces/nodes-test/pods", json=_pod("on-b", "node-b")).status_code == 201
    node_a = secure.client("node-a-token")
    assert node_a.get("/api/v1/namespaces/nodes-test/pods/on-b").status_code == 200  # reading is allowed
    assert _status_patch(node_a, "on-a").status_code == 200
    r = _status_patch(node_a, "on-b")
    assert r.status_code == 403
    assert r.json()["message"] == 'pods "on-b" is forbidden: node "node-a" can only update pod status for pods with spec.nodeName set to itself'
    r = node_a.delete("/api/v1/namespaces/nodes-test/pods/on-b")
    assert r.status_code == 403
    assert r.json()["message"] == 'pods "on-b" is forbidden: node "node-a" can only delete pods with spec.nodeName set to itself'
    r = node_a.post("/api/v1/namespaces/nodes-test/pods/on-b/eviction",
                    json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "on-b"}})
    assert r.status_code == 403
    # a node may create only mirror pods bound to itself
    r = node_a.post("/api/v1/namespaces/nodes-test/pods", json=_pod("sneaky", "node-a"))
    assert r.status_code == 403 and 'can only create mirror pods' in r.json()["message"]
    mirror = _pod("static-x", "node-b")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    r = node_a.post("/api/v1/namespaces/nodes-test/pods", json=mirror)
    assert r.status_code == 403 and 'can only create pods with spec.nodeName set to itself' in r.json()["message"]
    mirror["spec"]["nodeName"] = "node-a"
    assert node_a.post("/api/v1/namespaces/nodes-test/pods", json=mirror).status_code == 201
    # binding pods is the scheduler's job, not a node's
    r = node_a.post("/api/v1/namespaces/nodes-test/pods/on-b/binding", json={"metadata": {"name": "on-b"}, "target": {"name": "node-a"}})
    assert r.status_code == 403
    # both pods are untouched by the refused requests
    assert admin.get("/api/v1/namespaces/nodes-test/pods/on-b").json()["spec"]["nodeName"] == "node-b"
    assert node_a.delete("/api/v1/namespaces/nodes-test/pods/on-a", params={"gracePeriodSeconds": "0"}).status_code == 200


def test_node_changes_only_its_own_node_and_lease(secure: SecureCluster) -> None:
    admin = secure.admin  # type: ignore[attr-defined]
    node_a = secure.client("node-a-token")
    for n in ("node-a", "node-b"):
        r = (node_a if n == "node-a" else secure.client("node-b-token")).post("/api/v1/nodes", json={"metadata": {"name": n}})
        assert r.status_code == 201, r.text
    r = secure.client("node-b-token").post("/api/v1/nodes", json={"metadata": {"name": "node-c"}})
    assert r.status_code == 403 and r.json()["message"] == 'nodes "node-c" is forbidden: node "node-b" is not allowed to modify node "node-c"'
    patch = {"metadata": {"labels": {"x": "y"}}}
    ct = {"Content-Type": "application/merge-patch+json"}
    assert node_a.patch("/api/v1/nodes/node-a", json=patch, headers=ct).status_code == 200
    assert node_a.patch("/api/v1/nodes/node-a", json={"metadata": {"labels": {"topology.kubernetes.io/zone": "z1"}}},
                        headers=ct).status_code == 200
    r = node_a.patch("/api/v1/nodes/node-a", json={"metadata": {"labels": {"node-restriction.kubernetes.io/pci": "true"}}}, headers=ct)
    assert r.status_code == 403
    assert r.json()["message"] == ('nodes "node-a" is forbidden: node "node-a" is not allowed to modify labels: '
                                   'node-restriction.kubernetes.io/pci')
    r = node_a.patch("/api/v1/nodes/node-a", json={"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}}, headers=ct)
    assert r.status_code == 403
    r = node_a.patch("/api/v1/nodes/node-a", json={"spec": {"taints": [{"key": "mine", "effect": "NoSchedule"}]}}, headers=ct)
    assert r.status_code == 403 and r.json()["message"].endswith('node "node-a" is not allowed to modify taints')
    assert secure.admin.patch("/api/v1/nodes/node-a", json={"metadata": {"labels": {"node-restriction.kubernetes.io/pci": "true"}}},  # type: ignore[attr-defined]
                              headers=ct).status_code == 200  # the admin may
    r = node_a.patch("/api/v1/nodes/node-b", json=patch, headers=ct)
    assert r.status_code == 403
    assert r.json()["message"].startswith('nodes "node-b" is forbidden: User "system:node:node-a" cannot patch resource "nodes"')
    assert node_a.patch("/api/v1/nodes/node-b/status", json={"status": {}}, headers=ct).status_code == 403
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-a"},
             "spec": {"holderIdentity": "node-a", "leaseDurationSeconds": 40}}
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    assert node_a.post(leases, json=lease).status_code == 201
    assert node_a.get(f"{leases}/node-a").status_code == 200
    assert admin.post(leases, json={**lease, "metadata": {"name": "node-b"}}).status_code == 201
    r = node_a.put(f"{leases}/node-b", json={**lease, "metadata": {"name": "node-b"}})
    assert r.status_code == 403
    assert "can only access node lease with the same name as the requesting node" in r.json()["message"]
    assert node_a.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases").status_code == 403


def test_node_reads_only_the_secrets_its_pods_use(secure: SecureCluster) -> None:
    admin = secure.admin  # type: ignore[attr-defined]
    admin.post("/api/v1/namespaces", json={"metadata": {"name": "node-secrets"}})
    for name in ("used", "unused"):
        assert admin.post("/api/v1/namespaces/node-secrets/secrets",
                          json={"metadata": {"name": name}, "stringData": {"k": "v"}}).status_code == 201
    pod = _pod("user", "node-b", volumes=[{"name": "s", "secret": {"secretName": "used"}}])
    assert admin.post("/api/v1/namespaces/node-secrets/pods", json=pod).status_code == 201
    node_b, node_a = secure.client("node-b-token"), secure.client("node-a-token")
    wait_until(lambda: node_b.get("/api/v1/namespaces/node-secrets/secrets/used").status_code == 200, timeout=10,
               what="node-b reads the secret its pod mounts")
    r = node_b.get("/api/v1/namespaces/node-secrets/secrets/unused")
    assert r.status_code == 403
    assert r.json()["message"] == ('secrets "unused" is forbidden: User "system:node:node-b" cannot get resource "secrets" in '
                                   'API group "" in the namespace "node-secrets": no relationship found between node '
                                   "'node-b' and this object")
    assert node_a.get("/api/v1/namespaces/node-secrets/secrets/used").status_code == 403
    assert node_b.get("/api/v1/namespaces/node-secrets/secrets").status_code == 403  # no listing secrets
