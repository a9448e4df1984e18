"""DaemonSets and StatefulSets with real processes and the real kubectl (their own cluster:
node-3 joins mid-test, which would disturb the other modules' placement assumptions)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.node.cluster import stop_cluster
from tests.support.procs import wait_until

from .conftest import CMCluster, make_cluster

pytestmark = pytest.mark.etcd


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CMCluster]:
    c = make_cluster(tmp_path_factory.mktemp("cmsets"), "--controllers", "*,-cronjob,-resourcequota")
    try:
        yield c
    finally:
        stop_cluster(c)


DS = """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: monitoring-daemon
spec:
  selector:
    matchLabels:
      app: monitoring-agent
  template:
    metadata:
      labels:
        app: monitoring-agent
    spec:
      containers:
      - name: monitoring-agent
        image: nginx
"""


def test_daemonset_runs_one_pod_per_node_follows_new_nodes_and_rolls_out(kc: CMCluster):
    kc.apply_yaml(DS)
    pods = kc.running("app=monitoring-agent", 2)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2"]
    kc.kubectl("rollout", "status", "ds/monitoring-daemon", "--timeout=60s", check=True)
    kc.start_node("node-3", 3, "--cpu", "4", "--memory", "8Gi")
    pods = kc.running("app=monitoring-agent", 3)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2", "node-3"]
    st = kc.get("/apis/apps/v1/namespaces/default/daemonsets/monitoring-daemon")["status"]
    wait_until(lambda: kc.get("/apis/apps/v1/namespaces/default/daemonsets/monitoring-daemon")["status"]
               .get("numberAvailable") == 3, 30, what="numberAvailable=3")
    assert st["desiredNumberScheduled"] == 3

    kc.kubectl("set", "image", "ds/monitoring-daemon", "monitoring-agent=nginx:1.25", check=True)
    kc.kubectl("rollout", "status", "ds/monitoring-daemon", "--timeout=90s", check=True)
    pods = kc.running("app=monitoring-agent", 3)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.25"}
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2", "node-3"]
    kc.kubectl("delete", "ds", "monitoring-daemon", check=True)
    wait_until(lambda: not kc.live_pods("app=monitoring-agent"), 60, what="daemon pods removed with the DaemonSet")


STS = """
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: redis
        image: redis
"""


def test_statefulset_ordered_names_scale_and_rolling_update(kc: CMCluster):
    kc.apply_yaml(STS)
    # OrderedReady: db-1 never exists before db-0 is Ready, and so on
    seen: list[str] = []

    def ordered() -> bool:
        pods = {p["metadata"]["name"]: p for p in kc.live_pods("app=db")}
        for i in range(3):
            n = f"db-{i}"
            if n in pods and n not in seen:
                seen.append(n)
        for i in range(1, 3):
            if f"db-{i}" in pods:
                prev = pods.get(f"db-{i - 1}")
                assert prev is not None, f"db-{i} exists without db-{i - 1}"
        return len(pods) == 3 and all(p["status"].get("phase") == "Running" for p in pods.values())
    wait_until(ordered, 60, interval=0.1, what="db-0..2 Running")
    assert seen == ["db-0", "db-1", "db-2"]
    p0 = kc.pod("db-0")
    assert p0["spec"]["hostname"] == "db-0" and p0["spec"]["subdomain"] == "db"
    kc.kubectl("rollout", "status", "sts/db", "--timeout=60s", check=True)

    old_uid = kc.pod("db-1")["metadata"]["uid"]
    kc.kubectl("delete", "pod", "db-1", "--wait=false", check=True)

    def recreated() -> bool:
        p = kc.pod("db-1")
        return (p["metadata"]["uid"] != old_uid and not p["metadata"].get("deletionTimestamp")
                and p["status"].get("phase") == "Running")
    wait_until(recreated, 60, what="db-1 recreated under its name")

    kc.kubectl("scale", "sts/db", "--replicas=1", check=True)
    wait_until(lambda: [p["metadata"]["name"] for p in kc.live_pods("app=db")] == ["db-0"], 60, what="scaled down to db-0")
    kc.kubectl("scale", "sts/db", "--replicas=2", check=True)
    kc.running("app=db", 2)
    kc.kubectl("set", "image", "sts/db", "redis=redis:7", check=True)
    kc.kubectl("rollout", "status", "sts/db", "--timeout=90s", check=True)
    pods = kc.running("app=db", 2)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"redis:7"}
