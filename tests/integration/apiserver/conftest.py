"""Fixtures for apiserver integration tests: a real store + a real `kubeling apiserver` per module,
and the real kubectl pointed at it through a temporary kubeconfig and discovery cache.

The store is chosen by KUBELING_TEST_STORE: `etcd` (default; Debian's etcd-server) or
`kubeling` (`kubeling etcd` with the same flags) - the only line that differs is the command.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.procs import Proc, ProcGroup, free_port, wait_until

STORE = os.environ.get("KUBELING_TEST_STORE", "etcd")


class BinaryProc(Proc):
    """A Proc running an arbitrary executable (the real etcd) instead of `python -m kubeling`."""

    def start(self) -> "BinaryProc":
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                      env=dict(os.environ, **(self.env or {})))
        log.close()
        return self


def store_args(data_dir: Path, client: int, peer: int) -> list[str]:
    return ["--name", "t", "--data-dir", str(data_dir), "--listen-client-urls", f"http://127.0.0.1:{client}",
            "--advertise-client-urls", f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster", f"t=http://127.0.0.1:{peer}"]


def start_store(group: ProcGroup, base: Path) -> str:
    """Start the store chosen by KUBELING_TEST_STORE; return its client URL."""
    return start_store_proc(group, base)[0]


def start_store_proc(group: ProcGroup, base: Path, name: str = "store") -> tuple[str, Proc]:
    client, peer = free_port(), free_port()
    args = store_args(base / f"{name}-data", client, peer)
    if STORE == "etcd":
        if not shutil.which("etcd"):
            if os.environ.get("CI"):  # CI installs etcd-server: missing there is a real failure
                pytest.fail("etcd-server is not installed")
            pytest.skip("etcd-server is not installed")
        p: Proc = BinaryProc(name, ["etcd", *args], group.log_dir)
        p.start()
        group.procs.append(p)
    else:
        p = group.start(name, ["etcd", *args])
    url = f"http://127.0.0.1:{client}"
    wait_until(lambda: httpx.post(url + "/v3/kv/range", json={"key": "AA=="}, timeout=2).status_code == 200,
               timeout=30, what="store to answer")
    return url, p


class Cluster:
    def __init__(self, base: Path, url: str, store_url: str, api: Proc) -> None:
        self.base = base
        self.url = url
        self.store_url = store_url
        self.api = api
        self.kubeconfig = base / "kubeconfig"
        self.home = base / "home"
        self.home.mkdir(exist_ok=True)
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: \"%s\"}\n  name: k\n"
            "contexts:\n- context: {cluster: k, user: u, namespace: default}\n  name: k\ncurrent-context: k\n"
            "users:\n- name: u\n  user: {}\n" % url)
        self.http = httpx.Client(base_url=url, timeout=30)

    def env(self) -> dict[str, str]:
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.home))

    def kubectl(self, *args: str, input: str | None = None, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        res = subprocess.run(["kubectl", f"--cache-dir={self.home}/cache", *args], input=input, capture_output=True,
                             text=True, env=self.env(), timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed rc={res.returncode}\nstdout:{res.stdout}\nstderr:{res.stderr}")
        return res

    def kubectl_popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(["kubectl", f"--cache-dir={self.home}/cache", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=self.env())

    def write(self, name: str, text: str) -> str:
        p = self.base / name
        p.write_text(text)
        return str(p)


def start_apiserver(group: ProcGroup, store_url: str, name: str = "apiserver", extra: list[str] | None = None) -> tuple[str, Proc]:
    port = free_port()
    proc = group.start(name, ["apiserver", f"--etcd-servers={store_url}", "--bind-address", "127.0.0.1",
                              "--secure-port", str(port), "--service-cluster-ip-range", "10.96.0.0/16", *(extra or [])])
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if not proc.alive():
            raise RuntimeError("apiserver exited:\n" + proc.log_tail())
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    wait_until(ready, timeout=60, what="apiserver /readyz")
    return url, proc


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("apiserver")
    group = ProcGroup(base)
    try:
        store_url = start_store(group, base)
        url, api = start_apiserver(group, store_url)
        c = Cluster(base, url, store_url, api)
        c.group = group  # type: ignore[attr-defined]
        yield c
        c.http.close()
    finally:
        group.stop_all()
        for p in group.procs:
            if p.log_path.exists() and os.environ.get("KUBELING_TEST_SHOW_LOGS"):
                sys.stderr.write(p.log_tail(200))
