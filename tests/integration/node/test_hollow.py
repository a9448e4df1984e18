"""Hollow nodes: one node-agent process hosting several nodes that each register, heartbeat
and run their pods."""
from __future__ import annotations

import ipaddress

import pytest

from tests.integration.node.cluster import KubeCluster, pod_manifest
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.etcd


def test_one_process_hosts_several_working_nodes(kc: KubeCluster):
    ip = f"127.{kc.block}.0.50"
    cidr = f"127.{kc.block}.64.0/18"
    proc = kc.group.start("hollow", ["node", "--node-name", "hollow", "--hollow-nodes", "5", "--kubeconfig",
                                     str(kc.kubeconfig), "--node-ip", ip, "--kubelet-port", str(free_port(ip)),
                                     "--cluster-cidr", cidr, "--node-status-update-frequency", "2s"])
    names = [f"hollow-{i}" for i in range(5)]
    try:
        wait_until(lambda: all(kc.node_ready(n) for n in names), timeout=40, what="5 hollow nodes Ready")
        nodes = {n: kc.http.get(f"/api/v1/nodes/{n}").json() for n in names}
        assert len({nd["spec"]["podCIDR"] for nd in nodes.values()}) == 5
        assert all(nd["metadata"]["labels"]["kubeling.io/hollow"] == "true" for nd in nodes.values())
        lease = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/hollow-3"
        first = wait_until(lambda: kc.http.get(lease).json()["spec"]["renewTime"], timeout=20, what="hollow lease")
        wait_until(lambda: kc.http.get(lease).json()["spec"]["renewTime"] != first, timeout=20, what="lease renewed")
        kc.apply(pod_manifest("on-hollow", "busybox", command=["sh", "-c", "echo hello from a hollow node; sleep 3600"],
                              nodeSelector={"kubernetes.io/hostname": "hollow-3"}, terminationGracePeriodSeconds=1))
        p = kc.wait_pod("on-hollow", lambda p: p["status"].get("phase") == "Running", timeout=30, what="pod Running")
        assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(nodes["hollow-3"]["spec"]["podCIDR"])
        assert kc.kubectl("logs", "on-hollow", check=True).stdout == "hello from a hollow node\n"
    finally:
        kc.delete_pods("on-hollow")
        proc.stop()
        kc.kubectl("delete", "node", *names, "--ignore-not-found", check=True)
