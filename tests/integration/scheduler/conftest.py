"""One cluster per module: store, apiserver, scheduler and three node agents.

node-a: 2 CPUs, disk=ssd; node-b: 2 CPUs; node-c: 4 CPUs, tainted dedicated=gpu:NoSchedule.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.node.cluster import KubeCluster, start_cluster, stop_cluster

pytestmark = pytest.mark.etcd


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    c = start_cluster(tmp_path_factory.mktemp("sched"))
    try:
        c.start_scheduler("scheduler-1", "--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s",
                          "--leader-elect-retry-period", "1s")
        c.start_node("node-a", 1, "--cpu", "2", "--node-labels", "disk=ssd")
        c.start_node("node-b", 2, "--cpu", "2")
        c.start_node("node-c", 3, "--cpu", "4", "--register-with-taints", "dedicated=gpu:NoSchedule")
        yield c
    finally:
        stop_cluster(c)
