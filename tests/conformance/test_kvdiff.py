"""Conformance: kvdiff (../shared/tools/kvdiff.py) finds no divergence between a fresh 3-member
kubeling store and a fresh real etcd 3.4 (Debian's etcd-server), operation by operation.

Seeds come from $KVDIFF_SEEDS (default "1,2,3"); the issue's full check is seeds 1-20 at 600 ops:
    KVDIFF_SEEDS=$(seq -s, 1 20) python -m pytest tests/conformance/test_kvdiff.py
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.etcd.cluster import StoreCluster
from tests.support.procs import free_port, wait_until

KVDIFF = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "kvdiff.py"
SEEDS = [int(s) for s in os.environ.get("KVDIFF_SEEDS", "1,2,3").split(",") if s.strip()]
OPS = int(os.environ.get("KVDIFF_OPS", "600"))

pytestmark = pytest.mark.etcd


def _need(tool_ok: bool, why: str) -> None:
    if not tool_ok:
        if os.environ.get("CI"):
            pytest.fail(why)  # CI installs everything: a missing tool there is a real failure
        pytest.skip(why)


@pytest.fixture
def real_etcd(tmp_path):
    _need(shutil.which("etcd") is not None, "etcd (Debian etcd-server) is not installed")
    client, peer = free_port(), free_port()
    log = open(tmp_path / "etcd.log", "wb")
    proc = subprocess.Popen(
        ["etcd", "--name", "ref", "--data-dir", str(tmp_path / "ref.etcd"),
         "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"ref=http://127.0.0.1:{peer}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        import httpx

        wait_until(lambda: httpx.get(f"http://127.0.0.1:{client}/health", timeout=1).status_code == 200, 30,
                   what="real etcd healthy")
        yield f"http://127.0.0.1:{client}"
    finally:
        proc.kill()
        proc.wait()
        log.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_kvdiff_finds_no_divergence(seed, real_etcd, procs):
    _need(KVDIFF.exists(), f"{KVDIFF} not found (the team kit beside the checkout)")
    store = StoreCluster(procs).start()
    store.wait_healthy()
    store.leader()
    b = ",".join(store.url(i) for i in range(3))
    run = subprocess.run([sys.executable, str(KVDIFF), "--a", real_etcd, "--b", b, "--seed", str(seed),
                          "--ops", str(OPS), "--features", "kv,txn,lease,compact,watch,filters"],
                         capture_output=True, text=True, timeout=300)
    store.close()
    assert run.returncode == 0 and "NO DIVERGENCE" in run.stdout, run.stdout[-4000:] + run.stderr[-2000:]
