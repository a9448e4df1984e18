"""`docker compose up` (issue 6): the cluster as containers of one image, driven by the real kubectl.

Builds deploy/Dockerfile on the registry-free base image that ../shared/tools/docker-env.sh makes,
brings docker-compose.yml up under a project name of its own (its own node subnet, apiserver port
and NodePort window, so it never meets a cluster someone else runs), then: the secure default (the
`certs` init service's kubeconfig is HTTPS with the cluster CA; an anonymous request gets 401; the
store refuses clients without a cluster certificate; a node holds only its own credentials); 3
nodes Ready; a
Deployment behind a NodePort answers on 127.0.0.1:<nodePort>; a pod on one node reaches pods on
the others (host-gw routes); `compose kill node-2` and, with drill timings, its pods come back on
the other nodes while the NodePort keeps answering. `compose down -v` always runs, and touches
only this project's containers, network and volumes.

Compose v2 (`docker compose`) is used when present, else v1 (`docker-compose`);
KUBELING_TEST_COMPOSE="docker-compose" forces v1.
"""
from __future__ import annotations

import ipaddress
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.procs import wait_until

REPO = Path(__file__).resolve().parents[3]
BASE_IMAGE = os.environ.get("KUBELING_TEST_BASE_IMAGE", "local/python-base:bookworm")
IMAGE = "kubeling:compose-test"
NODE_PORT_WINDOW = 5  # NodePorts this test's cluster allocates from: Docker runs a proxy per published port

# a cold image build (apt + pip in the image) takes minutes on a loaded CI machine
pytestmark = pytest.mark.timeout(900)


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)  # CI runs docker-env.sh first: a missing engine there is a failure
        pytest.skip(why)


def _ok(*cmd: str) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def compose_command() -> list[str]:
    forced = os.environ.get("KUBELING_TEST_COMPOSE")
    if forced:
        return shlex.split(forced)
    if _ok("docker", "compose", "version"):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return []


def bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def free_node_port_window() -> str:
    """A run of NodePorts free on 127.0.0.1-3 (node-N publishes on 127.0.0.N), below the
    kernel's ephemeral range so no outgoing connection grabs one meanwhile."""
    for first in range(30000, 32767 - NODE_PORT_WINDOW, NODE_PORT_WINDOW):
        if all(bindable(f"127.0.0.{n}", p) for n in (1, 2, 3) for p in range(first, first + NODE_PORT_WINDOW)):
            return f"{first}-{first + NODE_PORT_WINDOW - 1}"
    raise RuntimeError("no free NodePort window on 127.0.0.1-3")


def free_subnet_prefix() -> str:
    """`10.240.X`: a /24 no Docker network uses yet (compose pins the nodes' addresses in it)."""
    ids = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True, check=True).stdout.split()
    used = subprocess.run(["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", *ids],
                          capture_output=True, text=True, check=True).stdout.split()
    nets = [ipaddress.ip_network(u, strict=False) for u in used if "." in u]
    for x in range(100, 250):
        cand = ipaddress.ip_network(f"10.240.{x}.0/24")
        if not any(cand.overlaps(n) for n in nets):
            return f"10.240.{x}"
    raise RuntimeError("no free 10.240.X.0/24 for the compose network")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    compose: list[str]
    project: str
    env: dict[str, str]
    kubeconfig: Path
    net: str

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [*self.compose, "-p", self.project, "-f", str(REPO / "docker-compose.yml"), *args]
        out = subprocess.run(cmd, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert out.returncode == 0, f"{shlex.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
        return out

    def kubectl(self, *args: str, input: str | None = None) -> str:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], capture_output=True,
                             text=True, timeout=60, input=input)
        assert out.returncode == 0, f"kubectl {shlex.join(args)}: {out.stderr}"
        return out.stdout

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _need(shutil.which("docker") is not None, "docker is not installed: run ../shared/tools/docker-env.sh")
    _need(_ok("docker", "info"), "the Docker engine is not running: run ../shared/tools/docker-env.sh")
    compose = compose_command()
    _need(bool(compose), "neither `docker compose` nor `docker-compose` is installed")
    _need(_ok("docker", "image", "inspect", BASE_IMAGE),
          f"base image {BASE_IMAGE} is missing: run ../shared/tools/docker-env.sh")
    _need(shutil.which("kubectl") is not None, "kubectl is not installed")
    phase("docker build")
    build = subprocess.run(["docker", "build", "-q", "-f", "deploy/Dockerfile", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
                            "-t", IMAGE, "."], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, f"docker build failed:\n{build.stdout}\n{build.stderr}"
    out = tmp_path_factory.mktemp("compose")
    net = free_subnet_prefix()
    env = dict(os.environ,
               KUBELING_IMAGE=IMAGE, KUBELING_BASE_IMAGE=BASE_IMAGE, KUBELING_NET=net,
               KUBELING_API_PORT=str(free_port()), KUBELING_NODE_PORTS=free_node_port_window(),
               KUBELING_COMPOSE_DIR=str(out),
               # drill timings: a dead node is NotReady after ~4 s and its pods are evicted 2 s later
               KUBELING_NODE_MONITOR_PERIOD="1s", KUBELING_NODE_MONITOR_GRACE_PERIOD="4s",
               KUBELING_POD_EVICTION_TIMEOUT="2s", KUBELING_NODE_STATUS_UPDATE_FREQUENCY="1s")
    c = Cluster(compose, f"kubeling-test-{uuid.uuid4().hex[:8]}", env, out / "kubeconfig", net)
    try:
        phase(f"compose up -d ({shlex.join(compose)}, project {c.project})")
        c.run("up", "-d")
        phase("compose up -d returned")
        yield c
    finally:
        try:  # shown by pytest only when the test failed
            logs = c.run("logs", "--tail", "30", check=False, timeout=60)
            print(f"--- {c.project} logs (tail) ---\n{logs.stdout[-20000:]}")
        finally:
            phase("compose down -v")
            c.run("down", "-v", "--remove-orphans", "-t", "5", check=False, timeout=180)
            phase("compose down -v returned")


T0 = time.monotonic()


def phase(what: str) -> None:
    """Progress with elapsed time, shown by pytest when the test fails (or with -s)."""
    print(f"[{time.monotonic() - T0:6.1f}s] {what}", flush=True)


def node_ready(node: dict) -> bool:
    return any(cond["type"] == "Ready" and cond["status"] == "True" for cond in node["status"].get("conditions", []))


def running_pods(c: Cluster, selector: str) -> list[dict]:
    return [p for p in c.get("pods", "-l", selector)["items"]
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
            and any(x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions", []))]


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def anonymous_status(url: str, cafile: Path) -> int:
    """The HTTP status of a request without credentials, the server checked against the cluster CA."""
    try:
        with urllib.request.urlopen(url, timeout=5, context=ssl.create_default_context(cafile=str(cafile))) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_compose_cluster_survives_a_node_kill(cluster: Cluster) -> None:
    c = cluster
    wait_until(c.kubeconfig.exists, timeout=60, interval=0.5, what="the certs service to write the kubeconfig")
    # the secure default: kubernetes-admin's kubeconfig names the published HTTPS port and carries the CA
    kcfg = yaml.safe_load(c.kubeconfig.read_text())
    assert kcfg["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{c.env['KUBELING_API_PORT']}"
    assert kcfg["clusters"][0]["cluster"]["certificate-authority-data"]
    assert c.kubeconfig.stat().st_mode & 0o777 == 0o600
    api = f"https://127.0.0.1:{c.env['KUBELING_API_PORT']}"
    wait_until(lambda: anonymous_status(api + "/readyz", c.kubeconfig.parent / "ca.crt") == 200,
               timeout=120, interval=0.5, what="the apiserver ready over HTTPS (its certificate valid for 127.0.0.1)")
    assert anonymous_status(api + "/api/v1/namespaces", c.kubeconfig.parent / "ca.crt") == 401
    assert c.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == "kubernetes-admin"
    # the store: only clients with a certificate of the store's own CA (the apiserver's) get in
    pki = "/etc/kubeling/pki"
    no_cert = c.run("exec", "-T", "etcd-0", "curl", "-sS", "-m", "5", "--cacert", f"{pki}/etcd-ca.crt",
                    "https://127.0.0.1:2379/health", check=False)
    assert no_cert.returncode != 0, no_cert.stdout
    with_cert = c.run("exec", "-T", "etcd-0", "curl", "-fsS", "-m", "5", "--cacert", f"{pki}/etcd-ca.crt",
                      "--cert", f"{pki}/healthcheck-client.crt", "--key", f"{pki}/healthcheck-client.key",
                      "https://127.0.0.1:2379/health")
    assert '"health"' in with_cert.stdout
    # a node holds only its own credentials: no CA key, no admin, no other node's
    files = c.run("exec", "-T", "node-1", "find", "/etc/kubeling", "-type", "f").stdout.split()
    assert sorted(files) == ["/etc/kubeling/kubeconfigs/kubelet-node-1.conf", "/etc/kubeling/pki/ca.crt",
                             "/etc/kubeling/pki/kubelet-node-1-server.crt", "/etc/kubeling/pki/kubelet-node-1-server.key"]
    phase("secure default checked")
    wait_until(lambda: sorted(n["metadata"]["name"] for n in c.get("nodes")["items"] if node_ready(n))
               == ["node-1", "node-2", "node-3"], timeout=120, interval=1, what="3 nodes Ready")
    phase("3 nodes Ready")
    nodes = {n["metadata"]["name"]: n for n in c.get("nodes")["items"]}
    assert {a["address"] for a in nodes["node-2"]["status"]["addresses"] if a["type"] == "InternalIP"} == {f"{c.net}.22"}

    c.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3")
    c.kubectl("expose", "deployment", "web", "--type=NodePort", "--port=80")
    pods = wait_until(lambda: (p := running_pods(c, "app=web")) and len({x["spec"]["nodeName"] for x in p}) == 3 and p,
                      timeout=90, interval=1, what="3 web pods Running, one per node")
    phase("3 web pods Running")
    # apiserver -> kubelet over HTTPS: its client certificate, each node's serving certificate for its address
    for p in pods:
        c.kubectl("logs", p["metadata"]["name"])
    node_port = c.get("service", "web")["spec"]["ports"][0]["nodePort"]
    body = wait_until(lambda: http_get(f"http://127.0.0.1:{node_port}/"), timeout=30, interval=0.5,
                      what=f"NodePort {node_port} answering on 127.0.0.1")
    assert "pod: web-" in body

    # host-gw: from node-1's network namespace, every pod IP answers, whichever node runs it
    for p in pods:
        out = c.run("exec", "-T", "node-1", "curl", "-fsS", "-m", "5", f"http://{p['status']['podIP']}/")
        assert f"pod: {p['metadata']['name']}" in out.stdout and f"node: {p['spec']['nodeName']}" in out.stdout

    c.run("kill", "node-2")
    phase("node-2 killed")
    wait_until(lambda: not node_ready(c.get("node", "node-2")), timeout=60, interval=1, what="node-2 NotReady")
    phase("node-2 NotReady")
    moved = wait_until(lambda: (p := running_pods(c, "app=web")) and len(p) == 3
                       and all(x["spec"]["nodeName"] != "node-2" for x in p) and p,
                       timeout=120, interval=1, what="web's 3 pods Running again, none on node-2")
    assert {x["spec"]["nodeName"] for x in moved} <= {"node-1", "node-3"}
    wait_until(lambda: sorted(a.get("nodeName") for s in c.get("endpoints", "web").get("subsets") or []
                              for a in s.get("addresses") or []) == sorted(x["spec"]["nodeName"] for x in moved),
               timeout=30, interval=0.5, what="web's endpoints to be the 3 new pods")
    phase("pods moved, endpoints updated")
    answers = [http_get(f"http://127.0.0.1:{node_port}/") for _ in range(6)]
    assert all("pod: web-" in a and "node: node-2" not in a for a in answers), answers
