"""Strategic merge patch (with directives), JSON merge patch and JSON patch."""
import pytest

from kubeling.services.apiserver.api.models.apps import Deployment
from kubeling.services.apiserver.api.models.core import Pod, Service
from kubeling.services.apiserver.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from kubeling.services.apiserver.patch.jsonpatch import JSONPatchError

POD = {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
       "spec": {"containers": [{"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                                "env": [{"name": "X", "value": "1"}]},
                               {"name": "b", "image": "redis"}]}}


def test_smp_merges_containers_by_name_and_keeps_others():
    out = apply_strategic_merge_patch(POD, {"spec": {"containers": [{"name": "a", "image": "nginx:1.25"}]}}, Pod)
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("a", "nginx:1.25"), ("b", "redis")]
    assert out["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
    assert POD["spec"]["containers"][0]["image"] == "nginx"  # the input is not mutated


def test_smp_delete_directive_and_set_element_order():
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                      "containers": [{"$patch": "delete", "name": "zzz"}, {"name": "b", "image": "redis:7"}]}}
    out = apply_strategic_merge_patch(POD, patch, Pod)
    assert [c["name"] for c in out["spec"]["containers"]] == ["b", "a"]
    out = apply_strategic_merge_patch(POD, {"spec": {"containers": [{"$patch": "delete", "name": "b"}]}}, Pod)
    assert [c["name"] for c in out["spec"]["containers"]] == ["a"]


def test_smp_null_deletes_and_replace_directive():
    out = apply_strategic_merge_patch(POD, {"metadata": {"labels": {"a": None, "c": "3"}}}, Pod)
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    out = apply_strategic_merge_patch(POD, {"metadata": {"labels": {"$patch": "replace", "z": "1"}}}, Pod)
    assert out["metadata"]["labels"] == {"z": "1"}
    out = apply_strategic_merge_patch(POD, {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "i"}]}}, Pod)
    assert out["spec"]["containers"] == [{"name": "only", "image": "i"}]


def test_smp_nested_merge_keys_and_primitive_sets():
    patch = {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}], "ports": [{"containerPort": 443}]}]},
             "metadata": {"finalizers": ["y"]}}
    out = apply_strategic_merge_patch(POD, patch, Pod)
    c = out["spec"]["containers"][0]
    assert [e["name"] for e in c["env"]] == ["X", "Y"] and [p["containerPort"] for p in c["ports"]] == [80, 443]
    assert out["metadata"]["finalizers"] == ["x", "y"]
    out = apply_strategic_merge_patch(POD, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}, Pod)
    assert out["metadata"]["finalizers"] == []


def test_smp_service_ports_by_port_and_retain_keys():
    svc = {"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 8080, "name": "b"}]}}
    patch = {"spec": {"$setElementOrder/ports": [{"port": 8080}], "ports": [{"$patch": "delete", "port": 80}]}}
    assert apply_strategic_merge_patch(svc, patch, Service)["spec"]["ports"] == [{"port": 8080, "name": "b"}]
    dep = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = apply_strategic_merge_patch(dep, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, Deployment)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_json_merge_patch_replaces_lists():
    out = apply_merge_patch(POD, {"spec": {"containers": [{"name": "x", "image": "y"}]}, "metadata": {"labels": {"a": None}}})
    assert out["spec"]["containers"] == [{"name": "x", "image": "y"}]
    assert out["metadata"]["labels"] == {"b": "2"}


def test_json_patch_operations():
    doc = {"a": {"b": [1, 2]}, "c": 1}
    out = apply_json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "replace", "path": "/c", "value": 2},
                                 {"op": "remove", "path": "/a/b/0"}, {"op": "copy", "from": "/c", "path": "/d"},
                                 {"op": "move", "from": "/d", "path": "/e"}, {"op": "test", "path": "/e", "value": 2},
                                 {"op": "add", "path": "/x~1y", "value": True}])
    assert out == {"a": {"b": [2, 3]}, "c": 2, "e": 2, "x/y": True}
    with pytest.raises(JSONPatchError):
        apply_json_patch(doc, [{"op": "test", "path": "/c", "value": 5}])
    with pytest.raises(JSONPatchError):
        apply_json_patch(doc, [{"op": "remove", "path": "/nope"}])
