"""One cluster for the package (kept lean on a shared machine): store, apiserver, scheduler and
two node agents (node-1, node-2), each also running kube-proxy and cluster DNS."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.node.cluster import KubeCluster, start_cluster, stop_cluster


@pytest.fixture(scope="package")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    c = start_cluster(tmp_path_factory.mktemp("node"))
    try:
        c.start_scheduler("scheduler", "--leader-elect=false")
        c.manifests = c.base / "manifests-node-1"  # type: ignore[attr-defined]
        c.manifests.mkdir()  # type: ignore[attr-defined]
        c.start_node("node-1", 1, "--cpu", "4", "--memory", "8Gi", "--max-pods", "50", "--node-labels", "zone=a",
                     "--pod-manifest-path", str(c.manifests), "--file-check-frequency", "0.5")  # type: ignore[attr-defined]
        c.start_node("node-2", 2)
        yield c
    finally:
        stop_cluster(c)
