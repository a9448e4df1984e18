"""kube-proxy and cluster DNS in the node agents, with real processes: ClusterIP and every
node's NodePort reach the Service's endpoints, follow EndpointSlice changes, honour ClientIP
affinity, refuse when there are no endpoints; the rules are shown in iptables-save form; DNS
answers Service names, and fake containers resolve short names through it.

kubeling has no endpointslice controller in this cluster (that is the controller-manager's
job), so the tests write the EndpointSlices themselves, exactly as that controller would.
"""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from kubeling.services.node.proxy.rules import svc_chain
from tests.integration.node.cluster import KubeCluster, curl, pod_manifest
from tests.support.procs import wait_until

pytestmark = pytest.mark.etcd


def running_ip(kc: KubeCluster, name: str) -> str:
    p = kc.wait_pod(name, lambda p: p["status"].get("phase") == "Running" and p["status"].get("podIP"),
                    what=f"{name} Running")
    return p["status"]["podIP"]


def slice_for(svc: str, port_name: str, port: int, ips: list[tuple[str, str]]) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{svc}-x1", "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": node} for ip, node in ips]}


@pytest.fixture(scope="module")
def web(kc: KubeCluster):
    """Two nginx pods (one per node), a NodePort Service over them, and its EndpointSlice."""
    kc.apply(pod_manifest("svc-a", labels={"app": "svcweb"}, nodeSelector={"kubernetes.io/hostname": "node-1"}))
    kc.apply(pod_manifest("svc-b", labels={"app": "svcweb"}, nodeSelector={"kubernetes.io/hostname": "node-2"}))
    ips = {"svc-a": running_ip(kc, "svc-a"), "svc-b": running_ip(kc, "svc-b")}
    kc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svcweb"},
              "spec": {"type": "NodePort", "selector": {"app": "svcweb"},
                       "ports": [{"name": "http", "port": 8080, "targetPort": 80}]}})
    kc.apply(slice_for("svcweb", "http", 80, [(ips["svc-a"], "node-1"), (ips["svc-b"], "node-2")]))
    svc = kc.http.get("/api/v1/namespaces/default/services/svcweb").json()
    yield {"ips": ips, "cluster_ip": svc["spec"]["clusterIP"], "node_port": svc["spec"]["ports"][0]["nodePort"]}
    kc.kubectl("delete", "service", "svcweb", "--ignore-not-found", check=True)
    kc.kubectl("delete", "endpointslice", "svcweb-x1", "--ignore-not-found", check=True)
    kc.delete_pods("svc-a", "svc-b")


def served_by(url: str) -> str | None:
    out = curl(url).stdout
    return next((ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith("pod: ")), None)


def test_cluster_ip_and_every_nodeport_reach_both_endpoints(kc: KubeCluster, web):
    url = f"http://{web['cluster_ip']}:8080/"
    seen: set[str] = set()
    wait_until(lambda: seen.add(served_by(url) or "") or {"svc-a", "svc-b"} <= seen, timeout=30,
               what="ClusterIP to reach both pods")
    for node, ip in kc.node_ips.items():
        got: set[str] = set()
        wait_until(lambda: got.add(served_by(f"http://{ip}:{web['node_port']}/") or "") or {"svc-a", "svc-b"} <= got,
                   timeout=30, what=f"NodePort on {node} to reach both pods")


def test_endpoint_changes_are_followed(kc: KubeCluster, web):
    only_b = slice_for("svcweb", "http", 80, [(web["ips"]["svc-b"], "node-2")])
    kc.apply(only_b)
    url = f"http://{web['cluster_ip']}:8080/"
    wait_until(lambda: all(served_by(url) == "svc-b" for _ in range(6)), timeout=10, what="only svc-b to answer")
    kc.apply(slice_for("svcweb", "http", 80, [(web["ips"]["svc-a"], "node-1"), (web["ips"]["svc-b"], "node-2")]))
    seen: set[str] = set()
    wait_until(lambda: seen.add(served_by(url) or "") or "svc-a" in seen, timeout=10, what="svc-a back")


def test_rules_are_shown_in_iptables_save_form(kc: KubeCluster, web):
    res = subprocess.run([sys.executable, "-m", "kubeling", "proxy-rules", "node-2", "--kubeconfig", str(kc.kubeconfig)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    chain = svc_chain("default/svcweb:http", "tcp")
    lines = res.stdout.splitlines()
    assert lines[0] == "*filter" and "*nat" in lines and lines[-1] == "COMMIT"
    assert (f'-A KUBE-SERVICES -m comment --comment "default/svcweb:http cluster IP" -m tcp -p tcp '
            f'-d {web["cluster_ip"]}/32 --dport 8080 -j {chain}') in lines
    to_sep = [ln for ln in lines if ln.startswith(f"-A {chain} ")]
    assert len(to_sep) == 2 and "--probability 0.5000000000" in to_sep[0] and "statistic" not in to_sep[1]
    dnat = sorted(ln.rsplit(" ", 1)[1] for ln in lines if "DNAT --to-destination" in ln and "svcweb" in ln)
    assert dnat == sorted(f"{ip}:80" for ip in web["ips"].values())
    assert any(f"--dport {web['node_port']} -j KUBE-EXT-" in ln for ln in lines)


def test_client_ip_affinity_and_no_endpoints_refuse(kc: KubeCluster, web):
    kc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "sticky"},
              "spec": {"selector": {"app": "svcweb"}, "sessionAffinity": "ClientIP",
                       "ports": [{"port": 9090, "targetPort": 80}]}})
    kc.apply(slice_for("sticky", "", 80, [(web["ips"]["svc-a"], "node-1"), (web["ips"]["svc-b"], "node-2")]))
    ip = kc.http.get("/api/v1/namespaces/default/services/sticky").json()["spec"]["clusterIP"]
    first = wait_until(lambda: served_by(f"http://{ip}:9090/"), timeout=30, what="sticky service to answer")
    assert all(served_by(f"http://{ip}:9090/") == first for _ in range(8))
    kc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "empty"},
              "spec": {"selector": {"app": "none"}, "ports": [{"port": 7070}]}})
    empty_ip = kc.http.get("/api/v1/namespaces/default/services/empty").json()["spec"]["clusterIP"]
    with socket.socket() as s:
        s.settimeout(3)
        assert s.connect_ex((empty_ip, 7070)) != 0  # REJECT: nothing listens
    kc.kubectl("delete", "service", "sticky", "empty", check=True)
    kc.kubectl("delete", "endpointslice", "sticky-x1", check=True)


def test_dns_answers_service_names_and_containers_resolve_short_names(kc: KubeCluster, web):
    server = kc.nodes["node-1"].dns  # type: ignore[attr-defined]

    def ask(name: str, qtype: str = "A") -> DNSRecord:
        return DNSRecord.parse(DNSRecord.question(name, qtype).send(server[0], server[1], timeout=3))
    fqdn = "svcweb.default.svc.cluster.local"
    r = wait_until(lambda: (lambda r: r if r.rr else None)(ask(fqdn)), timeout=15, what="A record")
    assert [str(rr.rdata) for rr in r.rr] == [web["cluster_ip"]]
    srv = ask("_http._tcp.svcweb.default.svc.cluster.local", "SRV")
    assert srv.rr[0].rtype == QTYPE.SRV and srv.rr[0].rdata.port == 8080
    assert ask("nope.default.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    kc.apply(pod_manifest("dnsprobe", "busybox", restartPolicy="Never",
                          command=["sh", "-c", "nslookup svcweb; wget -qO- svcweb:8080 | grep pod:"]))
    kc.wait_pod("dnsprobe", lambda p: p["status"].get("phase") == "Succeeded", what="dnsprobe Succeeded")
    out = kc.kubectl("logs", "dnsprobe", check=True).stdout.splitlines()
    assert f"Name:\t{fqdn}" in out and f"Address: {web['cluster_ip']}" in out
    assert out[-1] in ("pod: svc-a", "pod: svc-b")
    kc.delete_pods("dnsprobe")
