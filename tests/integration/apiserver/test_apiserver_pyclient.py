"""The official Python client (`kubernetes`) against kubeling: CRUD, the patch types, watch."""
from __future__ import annotations

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, dynamic, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

pytestmark = pytest.mark.etcd


@pytest.fixture(scope="module")
def api(cluster):
    cfg = client.Configuration()
    cfg.host = cluster.url
    with client.ApiClient(cfg) as c:
        yield c


def test_version_and_discovery(api):
    assert client.VersionApi(api).get_code().minor == "32"
    names = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/status", "services", "namespaces"} <= names
    dyn = dynamic.DynamicClient(api)
    deploys = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deploys.namespaced


def test_crud_patch_and_errors(api):
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "py"}})
    body = {"metadata": {"name": "p1", "labels": {"app": "py"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}, {"name": "d", "image": "redis"}]}}
    created = core.create_namespaced_pod("py", body)
    assert created.metadata.uid and created.spec.restart_policy == "Always"
    assert [p.metadata.name for p in core.list_namespaced_pod("py", label_selector="app=py").items] == ["p1"]
    # a dict patch is a strategic merge patch: containers merge by name
    p = core.patch_namespaced_pod("p1", "py", {"spec": {"containers": [{"name": "c", "image": "nginx:1.26"}]}})
    assert [(c.name, c.image) for c in p.spec.containers] == [("c", "nginx:1.26"), ("d", "redis")]
    # a list patch is a JSON patch
    p = core.patch_namespaced_pod("p1", "py", [{"op": "add", "path": "/metadata/labels/j", "value": "1"}])
    assert p.metadata.labels == {"app": "py", "j": "1"}
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("nope", "py")
    assert e.value.status == 404
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("py", body)
    assert e.value.status == 409
    apps = client.AppsV1Api(api)
    dep = {"metadata": {"name": "d"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                                                "template": {"metadata": {"labels": {"a": "b"}},
                                                             "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    apps.create_namespaced_deployment("py", dep)
    scale = apps.patch_namespaced_deployment_scale("d", "py", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert apps.read_namespaced_deployment_scale("d", "py").spec.replicas == 3
    core.delete_namespaced_pod("p1", "py")
    assert core.list_namespaced_pod("py").items == []


def test_watch_stream(api):
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "pywatch"}})
    core.create_namespaced_config_map("pywatch", {"metadata": {"name": "before"}})
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_config_map, "pywatch", timeout_seconds=10):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["object"].metadata.name == "before":
            core.create_namespaced_config_map("pywatch", {"metadata": {"name": "after"}})
        if ev["object"].metadata.name == "after":
            w.stop()
    assert seen == [("ADDED", "before"), ("ADDED", "after")]
