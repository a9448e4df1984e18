"""Static pods from --pod-manifest-path and their mirror pods, as on a kubeadm control plane."""
from __future__ import annotations

import pytest
import yaml

from tests.integration.node.cluster import KubeCluster, curl
from tests.support.procs import wait_until

pytestmark = pytest.mark.etcd
MIRROR = "kubernetes.io/config.mirror"


def manifest(labels: dict[str, str]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "static-web", "labels": labels},
                           "spec": {"containers": [{"name": "web", "image": "nginx"}]}})


def test_static_pod_runs_from_a_file_and_its_mirror_comes_back(kc: KubeCluster):
    f = kc.manifests / "static-web.yaml"  # type: ignore[attr-defined]
    f.write_text(manifest({"tier": "static"}))
    name = "static-web-node-1"
    p = kc.wait_pod(name, lambda p: p["status"].get("phase") == "Running" and p["status"].get("podIP"), timeout=30,
                    what="mirror pod Running")
    md = p["metadata"]
    assert MIRROR in md["annotations"] and md["ownerReferences"][0]["kind"] == "Node"
    assert p["spec"]["nodeName"] == "node-1" and md["labels"] == {"tier": "static"}
    ip = p["status"]["podIP"]
    assert "pod: static-web-node-1" in curl(f"http://{ip}/").stdout
    # Deleting the mirror does not stop the pod: the kubelet recreates the mirror.
    kc.kubectl("delete", "pod", name, "--wait=false", check=True)
    p2 = kc.wait_pod(name, lambda p: p["metadata"]["uid"] != md["uid"] and p["status"].get("phase") == "Running",
                     timeout=30, what="mirror recreated")
    assert p2["status"]["podIP"] == ip and p2["status"]["containerStatuses"][0]["restartCount"] == 0
    assert "pod: static-web-node-1" in curl(f"http://{ip}/").stdout
    # Editing the file replaces the pod (new hash); removing it stops the pod and the mirror goes.
    f.write_text(manifest({"tier": "edited"}))
    kc.wait_pod(name, lambda p: p["metadata"]["labels"] == {"tier": "edited"} and p["status"].get("phase") == "Running",
                timeout=30, what="mirror of the edited manifest")
    f.unlink()
    wait_until(lambda: kc.http.get(f"/api/v1/namespaces/default/pods/{name}").status_code == 404, timeout=30,
               what="mirror pod removed")
    wait_until(lambda: curl(f"http://{ip}/").returncode != 0, timeout=15, what="static pod stopped")
