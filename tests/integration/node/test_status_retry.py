"""A pod status that changes while the apiserver is down reaches it once it is back: the
kubelet's status manager keeps retrying (and its periodic reconcile would find the difference),
instead of dropping the write that failed.

Its own small cluster (store, apiserver, one node agent), since the test stops the apiserver.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.node.cluster import KubeCluster, pod_manifest, start_cluster, stop_cluster
from tests.support.procs import wait_until

pytestmark = pytest.mark.etcd


@pytest.fixture
def cluster(tmp_path) -> Iterator[KubeCluster]:
    c = start_cluster(tmp_path)
    try:
        c.start_node("n1", 1)
        yield c
    finally:
        stop_cluster(c)


def _apiserver_ready(c: KubeCluster) -> bool:
    try:
        return c.http.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_status_written_while_the_apiserver_was_down_arrives_after_it_returns(cluster: KubeCluster):
    c = cluster
    node = c.nodes["n1"]
    kubelet = f"http://{c.node_ips['n1']}:{node.args[node.args.index('--kubelet-port') + 1]}"
    body = pod_manifest("short", "busybox", command=["sh", "-c", "sleep 6"], restartPolicy="Never", nodeName="n1",
                        terminationGracePeriodSeconds=0)
    assert c.http.post("/api/v1/namespaces/default/pods", json=body).status_code == 201
    wait_until(lambda: c.pod("short")["status"].get("phase") == "Running", timeout=20, what="pod Running")

    c.api.stop()  # the container is still sleeping: it exits while nobody can be told
    down_at = time.time()
    assert not c.api.alive()

    def exited() -> dict | None:
        cs = httpx.get(kubelet + "/cri/containers", timeout=5).json()["containers"]
        return next((x for x in cs if x["metadata"]["name"] == "short" and x["state"] == "CONTAINER_EXITED"), None)
    container = wait_until(exited, timeout=20, what="the container to exit (seen by the node's runtime)")
    assert container["finishedAt"] / 1e9 > down_at, "the container exited before the apiserver stopped"
    assert node.alive()

    c.api = c.group.start("apiserver-restarted", c.api.args)
    wait_until(lambda: _apiserver_ready(c), timeout=60, what="apiserver back")
    p = wait_until(lambda: (lambda p: p if p["status"].get("phase") == "Succeeded" else None)(c.pod("short")),
                   timeout=30, what="the status the kubelet computed while the apiserver was down")
    term = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert node.alive()
