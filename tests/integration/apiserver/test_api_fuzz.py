"""schemathesis against a real `kubeling apiserver`, from the apiserver's own /openapi/v2: every
operation of core/v1, apps/v1 and batch/v1 (status, scale, binding and eviction included), a few
valid and a few schema-violating requests each. No 5xx, every error a Status, /healthz never
stalls while the fuzzer runs, RSS bounded. bench/fuzz_bench.py runs the same with many more
examples; KUBELING_FUZZ_EXAMPLES raises the count here."""
from __future__ import annotations

import json
import os

import httpx
import pytest

from tests.support.apifuzz import GROUP_VERSIONS, fuzz

pytestmark = [pytest.mark.etcd, pytest.mark.slow]
try:
    import schemathesis  # noqa: F401
except ImportError:  # the `test` extra installs it: missing under CI is a failure
    if os.environ.get("CI"):
        raise
    pytest.skip("schemathesis is not installed (pip install -e .[test])", allow_module_level=True)


def test_openapi_v2_is_a_swagger_document_of_the_served_api(cluster):
    h = cluster.http
    r = h.get("/openapi/v2")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["metadata"]["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    for path in ("/api/v1/namespaces/{namespace}/pods/{name}/eviction", "/api/v1/namespaces/{namespace}/pods/{name}/binding",
                 "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status"):
        assert path in doc["paths"], path
    put = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["put"]
    assert put["parameters"][0] == {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}}
    assert put["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    # cached copies: ETag and If-None-Match
    assert h.get("/openapi/v2", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    # kubectl's older code asks for protobuf first: JSON when JSON is acceptable too, 406 otherwise
    proto = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    assert h.get("/openapi/v2", headers={"Accept": f"{proto}, application/json"}).json()["swagger"] == "2.0"
    r = h.get("/openapi/v2", headers={"Accept": proto})
    assert r.status_code == 406 and r.json()["kind"] == "Status"


def test_python_client_and_kubectl_read_openapi(cluster):
    from kubernetes import client
    cfg = client.Configuration()
    cfg.host = cluster.url
    with client.ApiClient(cfg) as api:
        r = api.call_api("GET", cluster.url + "/openapi/v2")
        r.read()
    assert r.status == 200 and json.loads(r.data)["swagger"] == "2.0"
    out = cluster.kubectl("explain", "pods.spec.containers.image", check=True).stdout
    assert "FIELD: image <string>" in out or "image" in out
    created = cluster.kubectl("create", "--validate=true", "-f", "-", input=(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: validated}\ndata: {a: b}\n"), check=True)
    assert "validated created" in created.stdout
    bad = cluster.kubectl("create", "--validate=true", "-f", "-", input=(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndatta: {a: b}\n"))
    assert bad.returncode != 0 and "datta" in bad.stderr


def test_schemathesis_finds_no_5xx_no_plain_errors_no_stall(cluster):
    assert httpx.get(cluster.url + "/openapi/v2", timeout=30).status_code == 200
    report = fuzz(cluster.url, cluster.api.pid, examples=int(os.environ.get("KUBELING_FUZZ_EXAMPLES", "3")))
    assert report.requests > 300, report  # every covered operation was exercised
    assert set(report.codes) & {200, 201} and set(report.codes) & {400, 404, 422}
    assert not report.server_errors, "5xx or dropped requests:\n" + "\n".join(map(str, report.server_errors[:20]))
    assert not report.not_status, "errors that are not a Status:\n" + "\n".join(map(str, report.not_status[:20]))
    assert report.health_probes > 0 and not report.stalls, f"/healthz stalled: {report.stalls}"
    assert report.rss_after_kib - report.rss_before_kib < 150 * 1024, report
    assert all(p.startswith("/api") for p in GROUP_VERSIONS)
