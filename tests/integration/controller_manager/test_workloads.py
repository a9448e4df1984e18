"""ReplicaSets, ReplicationControllers and Deployments with real processes and the real kubectl."""
from __future__ import annotations

import json

import pytest

from tests.support.procs import wait_until

from .conftest import CMCluster

pytestmark = pytest.mark.etcd

RS_YAML = """
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myapp-replicaset
  labels:
    app: myapp
    type: front-end
spec:
  replicas: 3
  selector:
    matchLabels:
      type: front-end
  template:
    metadata:
      name: myapp-pod
      labels:
        app: myapp
        type: front-end
    spec:
      containers:
      - name: nginx-container
        image: nginx
"""

RC_YAML = """
apiVersion: v1
kind: ReplicationController
metadata:
  name: myapp-rc
  labels:
    app: myapp
    type: rc-front-end
spec:
  replicas: 3
  template:
    metadata:
      name: myapp-pod
      labels:
        app: myapp
        type: rc-front-end
    spec:
      containers:
      - name: nginx-container
        image: nginx
"""


def rs_status(kc: CMCluster, name: str, kind: str = "replicasets", group: str = "/apis/apps/v1") -> dict:
    return kc.get(f"{group}/namespaces/default/{kind}/{name}").get("status") or {}


def test_replicaset_creates_replaces_scales_and_reports_status(kc: CMCluster):
    kc.apply_yaml(RS_YAML)
    pods = kc.running("type=front-end", 3)
    for p in pods:
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["name"] == "myapp-replicaset" and ref["controller"] is True
        assert p["metadata"]["name"].startswith("myapp-replicaset-")
    wait_until(lambda: rs_status(kc, "myapp-replicaset").get("readyReplicas") == 3, 30, what="readyReplicas=3")
    st = rs_status(kc, "myapp-replicaset")
    assert st["replicas"] == 3 and st["availableReplicas"] == 3 and st["fullyLabeledReplicas"] == 3
    assert st["observedGeneration"] >= 1
    out = kc.kubectl("get", "rs", "myapp-replicaset", check=True).stdout
    assert "myapp-replicaset   3         3         3" in out, out

    # deleting a pod brings a replacement
    victim = pods[0]["metadata"]["name"]
    kc.kubectl("delete", "pod", victim, "--wait=false", check=True)
    wait_until(lambda: victim not in {p["metadata"]["name"] for p in kc.live_pods("type=front-end")} and
               len(kc.live_pods("type=front-end")) == 3, 30, what="a replacement pod")
    kc.running("type=front-end", 3)

    kc.kubectl("scale", "rs", "myapp-replicaset", "--replicas=5", check=True)
    kc.running("type=front-end", 5)
    kc.kubectl("scale", "rs", "myapp-replicaset", "--replicas=2", check=True)
    kc.running("type=front-end", 2)
    wait_until(lambda: rs_status(kc, "myapp-replicaset").get("replicas") == 2, 30, what="status.replicas=2")


def test_replicaset_adopts_orphans_and_releases_relabeled_pods(kc: CMCluster):
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan-1", "labels": {"tier": "adopt"}},
              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    kc.apply(orphan)
    kc.apply_yaml(RS_YAML.replace("myapp-replicaset", "adopter").replace("front-end", "adopt").replace("type:", "tier:"))
    pods = kc.running("tier=adopt", 3)
    assert "orphan-1" in {p["metadata"]["name"] for p in pods}  # adopted, so only two were created
    o = kc.pod("orphan-1")
    assert o["metadata"]["ownerReferences"][0]["name"] == "adopter"
    kc.kubectl("label", "pod", "orphan-1", "tier=gone", "--overwrite", check=True)
    wait_until(lambda: not kc.pod("orphan-1")["metadata"].get("ownerReferences"), 30, what="orphan-1 released")
    kc.running("tier=adopt", 3)  # and replaced


def test_replicationcontroller_from_yaml(kc: CMCluster):
    kc.apply_yaml(RC_YAML)
    pods = kc.running("type=rc-front-end", 3)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController" for p in pods)
    wait_until(lambda: rs_status(kc, "myapp-rc", "replicationcontrollers", "/api/v1").get("readyReplicas") == 3, 30,
               what="rc readyReplicas")
    kc.kubectl("scale", "rc", "myapp-rc", "--replicas=1", check=True)
    kc.running("type=rc-front-end", 1)
