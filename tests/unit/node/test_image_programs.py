"""Programs only some images ship: the control plane's binaries and the etcd image's etcdctl."""
from __future__ import annotations

import asyncio

import pytest

from kubeling.services.node.kubelet import images
from kubeling.services.node.kubelet.program import Context, Process, StartError

ETCD = "registry.k8s.io/etcd:3.5.16-0"


def ctx(image: str, out: list[str], env: dict[str, str] | None = None) -> Context:
    async def serve() -> None:
        await asyncio.Event().wait()
    return Context(log=out.append, env=env or {}, hostname="h", serve=serve, image=image)


def test_control_plane_images_are_known_with_their_registry():
    assert images.control_plane_image("kube-apiserver") == "registry.k8s.io/kube-apiserver:v1.32.0"
    assert images.normalized(ETCD) == ETCD
    assert images.normalized("docker.io/library/nginx:1.27") == "docker.io/library/nginx:1.27"
    assert "etcdctl" in images.binaries(ETCD) and images.binaries("nginx") == ()


def test_etcdctl_runs_kubeling_etcdctl_only_in_the_etcd_image():
    out: list[str] = []
    assert asyncio.run(Process(["etcdctl", "version"], ctx(ETCD, out)).run()) == 0
    assert out == ["etcdctl version: 3.4.23", "API version: 3.4"]
    with pytest.raises(StartError, match='"etcdctl": executable file not found'):
        Process(["etcdctl", "version"], ctx("registry.k8s.io/kube-apiserver:v1.32.0", []))
    out.clear()
    assert asyncio.run(Process(["sh", "-c", "etcdctl version"], ctx("busybox", out)).run()) == 127
    assert out == ["sh: etcdctl: not found"]


def test_etcdctl_takes_its_endpoints_from_the_container_environment():
    out: list[str] = []
    # nothing listens on port 1: the error names the endpoint the container's env chose
    code = asyncio.run(Process(["etcdctl", "endpoint", "health", "--command-timeout=1s"],
                               ctx(ETCD, out, {"ETCDCTL_ENDPOINTS": "127.0.0.1:1"})).run())
    assert code != 0 and any("127.0.0.1:1" in line for line in out), out


def test_a_control_plane_binary_runs_until_sigterm_and_exits_zero():
    async def go() -> tuple[str, int]:
        p = Process(["kube-scheduler", "--leader-elect"], ctx("registry.k8s.io/kube-scheduler:v1.32.0", []))
        task = asyncio.create_task(p.run())
        await asyncio.sleep(0)
        assert not task.done()
        return p.sigterm(), await task
    assert asyncio.run(go()) == ("exit", 0)


def test_a_control_plane_container_logs_its_process_log_file(tmp_path):
    """KUBELING_LOG_FILE: the container's output is the real process's log, followed as it grows."""
    log = tmp_path / "etcd-0.log"
    log.write_text("started\n")

    async def go() -> list[str]:
        out: list[str] = []
        p = Process(["etcd", "--name", "etcd-0"], ctx(ETCD, out, {"KUBELING_LOG_FILE": str(log)}))
        task = asyncio.create_task(p.run())

        async def until(lines: list[str]) -> None:
            deadline = asyncio.get_running_loop().time() + 10
            while out != lines:
                assert asyncio.get_running_loop().time() < deadline, out
                await asyncio.sleep(0.05)
        await until(["started"])
        with log.open("a") as f:
            f.write("elected leader\nhalf a li")
        await until(["started", "elected leader"])
        with log.open("a") as f:
            f.write("ne\n")
        await until(["started", "elected leader", "half a line"])
        p.sigterm()
        assert await task == 0
        return out
    assert asyncio.run(go()) == ["started", "elected leader", "half a line"]
