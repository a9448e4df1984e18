"""A node agent given several apiserver URLs keeps working when the one it uses dies."""
from __future__ import annotations

import pytest

from tests.integration.apiserver.conftest import start_apiserver
from tests.integration.node.cluster import KubeCluster, free_udp_port, pod_manifest
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.etcd


def test_node_agent_fails_over_between_apiservers(kc: KubeCluster):
    url2, api2 = start_apiserver(kc.group, kc.store_url, "apiserver-2",
                                 extra=["--service-cluster-ip-range", f"127.{kc.block}.128.0/20"])
    url3, _api3 = start_apiserver(kc.group, kc.store_url, "apiserver-3",
                                  extra=["--service-cluster-ip-range", f"127.{kc.block}.128.0/20"])
    kcfg = kc.base / "kubeconfig-ha"
    kcfg.write_text(kc.kubeconfig.read_text().replace(kc.url, f"{url2},{url3}"))
    ip = f"127.{kc.block}.0.9"
    node = kc.group.start("node-ha", ["node", "--node-name", "node-ha", "--kubeconfig", str(kcfg), "--node-ip", ip,
                                      "--kubelet-port", str(free_port(ip)), "--pod-cidr", f"127.{kc.block}.9.0/24",
                                      "--dns-port", str(free_udp_port(ip)), "--node-status-update-frequency", "1"])
    try:
        wait_until(lambda: kc.node_ready("node-ha"), timeout=30, what="node-ha Ready")
        lease = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-ha"
        wait_until(lambda: kc.http.get(lease).status_code == 200, timeout=20, what="node-ha lease")
        api2.kill()  # the URL the agent uses first is gone
        before = kc.http.get(lease).json()["spec"]["renewTime"]
        wait_until(lambda: kc.http.get(lease).json()["spec"]["renewTime"] != before, timeout=20,
                   what="lease renewed through the second apiserver")
        kc.apply(pod_manifest("on-ha", nodeSelector={"kubernetes.io/hostname": "node-ha"}))
        p = kc.wait_pod("on-ha", lambda p: p["status"].get("phase") == "Running", timeout=40,
                        what="pod Running on the failed-over node")
        assert p["status"]["podIP"].startswith(f"127.{kc.block}.9.")
        assert node.alive()
    finally:
        kc.delete_pods("on-ha")
        node.stop()
        kc.kubectl("delete", "node", "node-ha", "--ignore-not-found", check=True)
