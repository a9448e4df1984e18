"""A whole small cluster of real processes for scheduler and node-agent tests: a store, `kubeling
apiserver`, `kubeling scheduler` and `kubeling node` agents, driven with the real kubectl.

It reuses the apiserver tests' store/apiserver starters. Node and pod addresses live in a
127.X.0.0/16 block picked per cluster (X from the test process), so parallel runs on this
shared machine never collide on a node IP or pod IP.
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.integration.apiserver.conftest import Cluster, start_apiserver, start_store
from tests.support.procs import Proc, ProcGroup, free_port, wait_until


class KubeCluster(Cluster):
    """The apiserver fixture's Cluster plus the components and helpers these tests need."""

    def __init__(self, base: Path, url: str, store_url: str, api: Proc, group: ProcGroup, block: int) -> None:
        super().__init__(base, url, store_url, api)
        self.group = group
        self.block = block  # this cluster's 127.<block>.0.0/16: nodes .0.N, pods .N.0/24, Services .128.0/20
        self.nodes: dict[str, Proc] = {}
        self.node_ips: dict[str, str] = {}
        self.schedulers: list[Proc] = []

    def start_scheduler(self, name: str = "scheduler", *extra: str) -> Proc:
        port = free_port()
        p = self.group.start(name, ["scheduler", "--kubeconfig", str(self.kubeconfig), "--secure-port", str(port), *extra])
        p.health_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        self.schedulers.append(p)
        wait_until(lambda: _alive_and(p, lambda: httpx.get(p.health_url + "/readyz", timeout=2).status_code == 200),  # type: ignore[attr-defined]
                   timeout=30, what=f"{name} /readyz")
        return p

    def start_node(self, name: str, index: int, *extra: str, wait_ready: bool = True) -> Proc:
        ip = f"127.{self.block}.0.{index}"
        port = free_port(ip)
        dns_port = free_udp_port(ip)
        p = self.group.start(name, ["node", "--node-name", name, "--kubeconfig", str(self.kubeconfig), "--node-ip", ip,
                                    "--kubelet-port", str(port), "--pod-cidr", f"127.{self.block}.{index}.0/24",
                                    "--dns-port", str(dns_port), "--node-status-update-frequency", "2", *extra])
        p.dns = (ip, dns_port)  # type: ignore[attr-defined]
        self.nodes[name] = p
        self.node_ips[name] = ip
        if wait_ready:
            wait_until(lambda: _alive_and(p, lambda: self.node_ready(name)), timeout=30, what=f"node {name} Ready")
        return p

    def restart_node(self, name: str) -> Proc:
        """Stop a node agent (SIGTERM) and start it again with the same flags."""
        old = self.nodes[name]
        old.stop()
        p = self.group.start(f"{name}-restarted", old.args)
        p.dns = getattr(old, "dns", None)  # type: ignore[attr-defined]
        self.nodes[name] = p
        return p

    def node_ready(self, name: str) -> bool:
        r = self.http.get(f"/api/v1/nodes/{name}")
        if r.status_code != 200:
            return False
        return any(c["type"] == "Ready" and c["status"] == "True" for c in r.json()["status"].get("conditions", []))

    def pod(self, name: str, ns: str = "default") -> dict[str, Any]:
        r = self.http.get(f"/api/v1/namespaces/{ns}/pods/{name}")
        r.raise_for_status()
        return r.json()

    def wait_pod(self, name: str, cond, timeout: float = 30, what: str = "", ns: str = "default") -> dict[str, Any]:
        return wait_until(lambda: (lambda p: p if cond(p) else None)(self.pod(name, ns)), timeout=timeout,
                          what=what or f"pod {name}")

    def events_for(self, name: str, ns: str = "default") -> list[dict[str, Any]]:
        r = self.http.get(f"/api/v1/namespaces/{ns}/events", params={"fieldSelector": f"involvedObject.name={name}"})
        r.raise_for_status()
        return r.json()["items"]

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=json.dumps(obj), check=True)

    def delete_pods(self, *names: str) -> None:
        if names:
            self.kubectl("delete", "pod", "--grace-period=0", "--force", "--ignore-not-found", *names, check=True)


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _alive_and(p: Proc, cond) -> bool:
    if not p.alive():
        raise RuntimeError(f"{p.name} exited:\n{p.log_tail()}")
    return cond()


def start_cluster(base: Path) -> KubeCluster:
    group = ProcGroup(base)
    block = random.Random(os.getpid() ^ int.from_bytes(os.urandom(2), "big")).randint(100, 230)
    try:
        store_url = start_store(group, base)
        url, api = start_apiserver(group, store_url,
                                   extra=["--service-cluster-ip-range", f"127.{block}.128.0/20"])
    except BaseException:
        group.stop_all()
        raise
    return KubeCluster(base, url, store_url, api, group, block)


def stop_cluster(c: KubeCluster) -> None:
    c.http.close()
    c.group.stop_all()
    if os.environ.get("KUBELING_TEST_SHOW_LOGS"):
        for p in c.group.procs:
            sys.stderr.write(f"==== {p.name}\n{p.log_tail(200)}\n")


def pod_manifest(name: str, image: str = "nginx", **spec: Any) -> dict[str, Any]:
    container = {"name": spec.pop("container_name", name), "image": image}
    for k in ("command", "args", "ports", "resources"):
        if k in spec:
            container[k] = spec.pop(k)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": spec.pop("labels", {"test": name})},
            "spec": {"containers": [container], **spec}}


def curl(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-s", "--max-time", "5", url], capture_output=True, text=True)
