"""The kubelet API secured as in a kubeadm cluster: a node agent serving HTTPS with
`--client-ca-file`, `--anonymous-auth=false` and `--authorization-mode=Webhook`, and an apiserver
that reaches it with kubeadm's `apiserver-kubelet-client` certificate.

Talking to the kubelet port directly without a certificate, with one from another CA, or as a
cluster user without `nodes/proxy` gets nowhere; `kubectl logs` and `kubectl exec` through the
apiserver still work. Real processes throughout: store, apiservers, node agent, kubectl.
"""
from __future__ import annotations

import json
import os
import random
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kubeling.shared.pki import CertificateAuthority

from tests.integration.node.cluster import free_udp_port
from tests.support.procs import free_port, wait_until

from .conftest import SecureCluster, start_another_apiserver

NODE = "kapi-1"
NS = "kapi"
POD = "talker"


@dataclass
class KubeletSetup:
    secure: SecureCluster
    kubelet: str  # https://ip:port
    healthz: str  # http://ip:port
    apiserver: str
    admin_kubeconfig: Path

    def client(self, cert: tuple[Path, Path] | None = None, ca: CertificateAuthority | None = None) -> httpx.Client:
        """A direct client of the kubelet port; it trusts the cluster CA for the kubelet's serving certificate."""
        ctx = ssl.create_default_context(cafile=str(self.secure.ca_path))
        if cert is not None:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        return httpx.Client(base_url=self.kubelet, verify=ctx, timeout=10)

    def user_cert(self, user: str, *groups: str, ca: CertificateAuthority | None = None) -> tuple[Path, Path]:
        return (ca or self.secure.ca).issue(user, orgs=groups, client=True).write(self.secure.base, f"user-{user}")


@pytest.fixture(scope="module")
def setup(secure: SecureCluster) -> Iterator[KubeletSetup]:
    _, api_url = start_another_apiserver(secure, secure.kubelet_client_flags())
    block = random.Random(os.getpid() ^ int.from_bytes(os.urandom(2), "big")).randint(100, 230)
    ip = f"127.{block}.7.1"
    port, hport = free_port(ip), free_port(ip)
    node_kc = secure.kubeconfig(NODE, token=f"{NODE}-token", server=api_url)
    node = secure.group.start(NODE, [
        "node", "--node-name", NODE, "--kubeconfig", str(node_kc), "--node-ip", ip, "--kubelet-port", str(port),
        "--pod-cidr", f"127.{block}.8.0/24", "--dns-port", str(free_udp_port(ip)), "--node-status-update-frequency", "2",
        "--healthz-port", str(hport), *secure.kubelet_serving_flags(NODE, ip)])
    healthz = f"http://{ip}:{hport}"

    def healthy() -> bool:
        if not node.alive():
            raise RuntimeError(f"node agent exited:\n{node.log_tail()}")
        return httpx.get(healthz + "/readyz", timeout=2).status_code == 200
    wait_until(healthy, timeout=30, what="secured node agent ready")
    admin = secure.admin  # type: ignore[attr-defined]
    assert admin.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).status_code in (201, 409)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "namespace": NS},
           "spec": {"nodeName": NODE, "containers": [{"name": "main", "image": "busybox",
                                                        "command": ["sh", "-c", "echo secret-log-line; sleep 3600"]}]}}
    r = admin.post(f"/api/v1/namespaces/{NS}/pods", json=pod)
    assert r.status_code == 201, r.text

    def running() -> bool:
        return admin.get(f"/api/v1/namespaces/{NS}/pods/{POD}").json()["status"].get("phase") == "Running"
    wait_until(running, timeout=30, what="pod Running on the secured node")
    yield KubeletSetup(secure, f"https://{ip}:{port}", healthz, api_url,
                       secure.kubeconfig("kapi-admin", token="admin-token", server=api_url))


LOGS = f"/containerLogs/{NS}/{POD}/main"
EXEC = f"/exec/{NS}/{POD}/main?command=echo&command=hi&stdout=1"


def test_no_client_certificate_is_unauthorized(setup: KubeletSetup) -> None:
    with setup.client() as c:
        for path in (LOGS, EXEC, "/pods", "/metrics"):
            r = c.get(path)
            assert (r.status_code, r.text) == (401, "Unauthorized"), path
        assert c.post(f"/run/{NS}/{POD}/main?cmd=id").status_code == 401
    with pytest.raises(httpx.TransportError):  # the port speaks only TLS: plain HTTP gets no answer
        httpx.get(setup.kubelet.replace("https://", "http://") + LOGS, timeout=5)


def test_certificate_from_another_ca_is_refused_in_the_handshake(setup: KubeletSetup) -> None:
    stranger = CertificateAuthority.create("not-the-cluster")
    cert = setup.user_cert("kubernetes-admin", "system:masters", ca=stranger)
    with setup.client(cert) as c, pytest.raises(httpx.TransportError):
        c.get(LOGS)


def test_cluster_user_without_nodes_proxy_is_forbidden(setup: KubeletSetup) -> None:
    with setup.client(setup.user_cert("alice", "devs")) as c:
        r = c.get(LOGS)
        assert (r.status_code, r.text) == (403, "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)")
        r = c.get(EXEC)
        assert (r.status_code, r.text) == (403, "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)")
        r = c.post(EXEC)  # SPDY-style exec: create
        assert (r.status_code, r.text) == (403, "Forbidden (user=alice, verb=create, resource=nodes, subresource=proxy)")


def test_rbac_on_nodes_subresources_decides_direct_access(setup: KubeletSetup) -> None:
    admin = setup.secure.admin  # type: ignore[attr-defined]
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "kubelet-log-reader"},
            "rules": [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "bob-kubelet"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubelet-log-reader"},
               "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}]}
    assert admin.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", json=role).status_code == 201
    assert admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json=binding).status_code == 201

    def bob_can_proxy() -> bool:  # the binding reaches the apiserver's RBAC cache by watch
        r = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json={
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "bob", "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "proxy", "name": NODE}}})
        return bool(r.json()["status"].get("allowed"))
    wait_until(bob_can_proxy, timeout=10, what="bob's binding in effect")
    with setup.client(setup.user_cert("bob")) as c:
        r = c.get(LOGS)
        assert r.status_code == 200 and "secret-log-line" in r.text, r.text
        r = c.get("/metrics")  # nodes/metrics is a subresource of its own
        assert (r.status_code, r.text) == (403, "Forbidden (user=bob, verb=get, resource=nodes, subresource=metrics)")
        r = c.post(EXEC)  # get is not create
        assert r.status_code == 403


def test_bearer_tokens_are_checked_by_token_review(setup: KubeletSetup) -> None:
    with setup.client() as c:
        r = c.get(LOGS, headers={"Authorization": "Bearer not-a-token"})
        assert (r.status_code, r.text) == (401, "Unauthorized")
        r = c.get(LOGS, headers={"Authorization": "Bearer alice-token"})
        assert (r.status_code, r.text) == (403, "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)")
        r = c.get(LOGS, headers={"Authorization": "Bearer admin-token"})  # system:masters
        assert r.status_code == 200 and "secret-log-line" in r.text


def test_apiserver_kubelet_client_certificate_is_allowed(setup: KubeletSetup) -> None:
    b = setup.secure.base
    with setup.client((b / "apiserver-kubelet-client.crt", b / "apiserver-kubelet-client.key")) as c:
        r = c.get(LOGS)
        assert r.status_code == 200 and "secret-log-line" in r.text
        assert POD in {p["metadata"]["name"] for p in c.get("/pods").json()["items"]}


def test_kubectl_logs_and_exec_through_the_secured_apiserver(setup: KubeletSetup) -> None:
    kc = setup.admin_kubeconfig
    out = setup.secure.kubectl(kc, "logs", "-n", NS, POD, check=True).stdout
    assert "secret-log-line" in out
    out = setup.secure.kubectl(kc, "exec", "-n", NS, POD, "--", "echo", "exec-over-tls", check=True).stdout
    assert out.strip() == "exec-over-tls"
    raw = setup.secure.kubectl(kc, "get", "--raw", f"/api/v1/nodes/{NODE}/proxy/pods", check=True).stdout
    assert POD in {p["metadata"]["name"] for p in json.loads(raw)["items"]}


def test_healthz_port_is_open_and_serves_only_health(setup: KubeletSetup) -> None:
    assert httpx.get(setup.healthz + "/healthz", timeout=5).text == "ok"
    r = httpx.get(setup.healthz + LOGS, timeout=5)
    assert r.status_code == 404 and "secret-log-line" not in r.text


def test_apiserver_without_the_kubelets_trust_gets_nothing(setup: KubeletSetup) -> None:
    """The package's apiserver has no kubelet client certificate (it speaks plain HTTP to the
    node): no logs. One whose certificate belongs to a user without nodes/proxy gets the kubelet's
    refusal, relayed as upstream relays it."""
    s = setup.secure
    r = s.kubectl(s.kubeconfig("plain-admin", token="admin-token"), "logs", "-n", NS, POD)
    assert r.returncode != 0 and "secret-log-line" not in r.stdout
    assert "cannot reach the node agent" in r.stderr, r.stderr
    crt, key = setup.user_cert("carol")
    _, url = start_another_apiserver(s, ["--kubelet-client-certificate", str(crt), "--kubelet-client-key", str(key),
                                         "--kubelet-certificate-authority", str(s.ca_path)])
    r = s.kubectl(s.kubeconfig("carol-admin", token="admin-token", server=url), "logs", "-n", NS, POD)
    assert r.returncode != 0 and "secret-log-line" not in r.stdout
    assert ("Error from server (Forbidden): Forbidden (user=carol, verb=get, resource=nodes, subresource=proxy)"
            f" ( pods/log {POD})") in r.stderr, r.stderr
    r = s.kubectl(s.kubeconfig("carol-admin", token="admin-token", server=url), "exec", "-n", NS, POD, "--", "echo", "x")
    assert r.returncode != 0, r.stdout
    assert "unable to upgrade connection: Forbidden (user=carol, verb=get, resource=nodes, subresource=proxy)" in r.stderr, r.stderr


def test_crictl_reaches_a_secured_node_through_the_apiserver(setup: KubeletSetup) -> None:
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "kubeling", "crictl", "--node", NODE, "--kubeconfig", str(setup.admin_kubeconfig),
                          "pods"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert POD in res.stdout and NS in res.stdout
