"""The default store for this folder's tests: three `kubeling etcd` members, healthy."""
from __future__ import annotations

import pytest

from .cluster import StoreCluster


@pytest.fixture
def cluster(procs):
    c = StoreCluster(procs).start()
    c.wait_healthy()
    yield c
    c.close()
