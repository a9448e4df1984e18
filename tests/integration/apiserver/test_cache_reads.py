"""GET with resourceVersion=0 is answered from the apiserver's watch cache (upstream's cacher:
"any version" reads never reach the store), which is what the kubelet's status loop relies on."""
from __future__ import annotations

import httpx

from tests.support.procs import ProcGroup, wait_until

from .conftest import start_apiserver, start_store_proc

CM = "/api/v1/namespaces/default/configmaps"


def test_a_resource_version_0_get_is_served_from_the_watch_cache(tmp_path):
    group = ProcGroup(tmp_path)
    try:
        store_url, store = start_store_proc(group, tmp_path)
        url, _ = start_apiserver(group, store_url)
        with httpx.Client(base_url=url, timeout=30) as http:
            r = http.post(CM, json={"metadata": {"name": "cached"}, "data": {"k": "v1"}})
            assert r.status_code == 201, r.text
            rv = r.json()["metadata"]["resourceVersion"]
            got = wait_until(lambda: (g := http.get(f"{CM}/cached", params={"resourceVersion": "0"})).status_code == 200
                             and g.json(), 10, what="the cached read")
            assert got["kind"] == "ConfigMap" and got["data"] == {"k": "v1"}
            assert got["metadata"]["resourceVersion"] == rv
            missing = http.get(f"{CM}/nope", params={"resourceVersion": "0"})
            assert missing.status_code == 404 and missing.json()["reason"] == "NotFound"

            store.kill()  # from now on only the cache can answer
            wait_until(lambda: http.get(f"{CM}/cached").status_code >= 500, 60, interval=0.5,
                       what="a plain GET failing without the store")
            cached = http.get(f"{CM}/cached", params={"resourceVersion": "0"})
            assert cached.status_code == 200 and cached.json()["data"] == {"k": "v1"}
    finally:
        group.stop_all()
