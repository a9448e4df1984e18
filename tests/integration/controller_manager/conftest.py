"""One cluster per module: store, apiserver, scheduler, the controller-manager under test and
two node agents, all real processes, with short node-monitor flags so failure drills finish in
seconds."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.node.cluster import (
    KubeCluster,
    _alive_and,
    start_cluster,
    stop_cluster,
)
from tests.support.procs import Proc, free_port, wait_until

pytestmark = pytest.mark.etcd


class CMCluster(KubeCluster):
    cm: Proc

    def start_controller_manager(self, *extra: str, name: str = "controller-manager") -> Proc:
        port = free_port()
        p = self.group.start(name, [
            "controller-manager", "--kubeconfig", str(self.kubeconfig), "--secure-port", str(port),
            "--cluster-cidr", f"127.{self.block}.0.0/16", "--leader-elect-lease-duration", "4s",
            "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s", *extra])
        p.health_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        wait_until(lambda: _alive_and(p, lambda: httpx.get(p.health_url + "/healthz", timeout=2).status_code == 200),  # type: ignore[attr-defined]
                   timeout=30, what="controller-manager /healthz")
        self.cm = p
        return p

    def get(self, path: str) -> dict[str, Any]:
        r = self.http.get(path)
        r.raise_for_status()
        return r.json()

    def pods(self, selector: str, ns: str = "default") -> list[dict[str, Any]]:
        r = self.http.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": selector})
        r.raise_for_status()
        return r.json()["items"]

    def live_pods(self, selector: str, ns: str = "default") -> list[dict[str, Any]]:
        return [p for p in self.pods(selector, ns) if not p["metadata"].get("deletionTimestamp")]

    def running(self, selector: str, n: int, ns: str = "default", timeout: float = 60) -> list[dict[str, Any]]:
        """Wait until exactly n live pods match and all are Running and Ready."""
        def ok():
            pods = self.live_pods(selector, ns)
            if len(pods) == n and all(p["status"].get("phase") == "Running" and any(
                    c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
                    for p in pods):
                return pods
            return None
        return wait_until(ok, timeout=timeout, interval=0.2, what=f"{n} Running pods for {selector}")

    def apply_yaml(self, text: str, ns: str | None = None) -> None:
        self.kubectl("apply", "-f", "-", *(["-n", ns] if ns else []), input=text, check=True)


def make_cluster(tmp: Any, *cm_flags: str, nodes: int = 2) -> CMCluster:
    base = start_cluster(tmp)
    c = CMCluster.__new__(CMCluster)
    c.__dict__.update(base.__dict__)
    try:
        c.start_scheduler("scheduler")
        for i in range(1, nodes + 1):
            c.start_node(f"node-{i}", i, "--cpu", "4", "--memory", "8Gi")
        c.start_controller_manager(*cm_flags)
    except BaseException:
        stop_cluster(c)
        raise
    return c


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CMCluster]:
    c = make_cluster(tmp_path_factory.mktemp("cm"))
    try:
        yield c
    finally:
        stop_cluster(c)
