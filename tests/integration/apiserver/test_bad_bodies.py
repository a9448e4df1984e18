"""Bad bodies against a real `kubeling apiserver`: each answers a Status (400/413/422), never a
500; the YAML alias bomb leaves the process's memory bounded; /healthz answers while the slowest
body a client can send (3 MiB of YAML) is being decoded."""
from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.unit.apiserver.test_bounded_bodies import BOMB, _configmap, _ld, _varint

pytestmark = pytest.mark.etcd
CMS = "/api/v1/namespaces/default/configmaps"
DEPS = "/apis/apps/v1/namespaces/default/deployments"
JSON_PATCH = {"content-type": "application/json-patch+json"}
SMP = {"content-type": "application/strategic-merge-patch+json"}
REJECTED = "the server rejected our request due to an error in our request"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def failure(r: httpx.Response, code: int) -> dict:
    assert r.status_code == code, r.text[:500]
    body = r.json()
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == code
    return body


@pytest.fixture(scope="module")
def objects(cluster):
    h = cluster.http
    assert h.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"},
                             "data": {"a": "x" * 1000}}).status_code == 201
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "target"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    assert h.post(DEPS, json=dep).status_code == 201
    return cluster


def test_yaml_bomb_is_400_and_memory_stays_bounded(objects):
    h, pid = objects.http, objects.api.pid
    before = rss_kib(pid)
    r = h.post(CMS, content=BOMB, headers={"content-type": "application/yaml"})
    assert "yaml: document contains excessive aliasing" in failure(r, 400)["message"]
    r = h.patch(f"{CMS}/bomb", content=BOMB, params={"fieldManager": "t"},
                headers={"content-type": "application/apply-patch+yaml"})
    assert "yaml: document contains excessive aliasing" in failure(r, 400)["message"]
    assert rss_kib(pid) - before < 100 * 1024
    assert h.get("/healthz").status_code == 200


@pytest.mark.parametrize("body", [
    b"[" * 10000 + b"]" * 10000,
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep","annotations":{"a":' + b"[" * 300 + b"]" * 300 + b"}}}",
    b'{"a": 1e400}',
], ids=["10000-deep", "300-deep-in-a-field", "inf"])
def test_bad_json_is_400(objects, body):
    r = objects.http.post(CMS, content=body, headers={"content-type": "application/json"})
    failure(r, 400)


def test_integer_past_int64_in_a_typed_field_is_400(objects):
    body = (b'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"big"},"spec":{"replicas":18446744073709551616,'
            b'"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},'
            b'"spec":{"containers":[{"name":"c","image":"x"}]}}}}')
    r = objects.http.post(DEPS, content=body, headers={"content-type": "application/json"})
    assert "cannot unmarshal number 18446744073709551616" in failure(r, 400)["message"]


@pytest.mark.parametrize("ops", [
    [{"op": "copy", "path": "/data/b"}],
    [{"op": "add", "path": 5, "value": "x"}],
    [{"op": "add", "value": {"kind": "Secret"}}],
    [{"op": "test", "path": "/metadata/name", "value": 1}],
    [{"op": "copy", "from": "/data", "path": f"/data/c{i}"} for i in range(20)],
], ids=["no-from", "path-not-string", "no-path", "test-type", "20-copies"])
def test_json_patch_errors_are_422(objects, ops):
    r = objects.http.patch(f"{CMS}/target", json=ops, headers=JSON_PATCH)
    assert failure(r, 422)["message"] == REJECTED


def test_json_patch_on_scale_is_422_and_leading_zero_index_refused(objects):
    h = objects.http
    r = h.patch(f"{DEPS}/target/scale", json=[{"op": "copy", "path": "/spec/replicas"}], headers=JSON_PATCH)
    assert failure(r, 422)["message"] == REJECTED
    r = h.patch(f"{DEPS}/target", json=[{"op": "replace", "path": "/spec/template/spec/containers/00/image", "value": "y"}],
                headers=JSON_PATCH)
    failure(r, 422)
    r = h.patch(f"{DEPS}/target/scale", json=[{"op": "replace", "path": "/spec/replicas", "value": 2}], headers=JSON_PATCH)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 2


def test_too_many_json_patch_operations_is_413(objects):
    ops = [{"op": "test", "path": "/metadata/name", "value": "target"}] * 10001
    r = objects.http.patch(f"{CMS}/target", json=ops, headers=JSON_PATCH)
    assert "The allowed maximum operations in a JSON patch is 10000, got 10001" in failure(r, 413)["message"]


@pytest.mark.parametrize("patch,code", [
    ({"spec": {"template": {"spec": {"$setElementOrder/containers": 5}}}}, 400),
    ({"spec": {"$patch": "explode"}}, 422),
    ({"spec": {"template": {"spec": {"containers": [{"$patch": "explode", "name": "c"}]}}}}, 422),
], ids=["setElementOrder-5", "patch-explode", "list-patch-explode"])
def test_strategic_merge_directive_errors(objects, patch, code):
    r = objects.http.patch(f"{DEPS}/target", json=patch, headers=SMP)
    failure(r, code)
    r = objects.http.patch(f"{DEPS}/target/scale", json={"spec": {"$patch": "explode"}}, headers=SMP)
    failure(r, 422)


@pytest.mark.parametrize("raw", [
    _configmap(_ld(1, b"\xff\xfe")),
    _configmap(_varint(8, 5)),
    _configmap(_ld(8, _varint(1, 1 << 62))),
], ids=["utf8", "number-for-message", "time-2^62"])
def test_bad_protobuf_is_400(objects, raw):
    r = objects.http.post(CMS, content=raw, headers={"content-type": "application/vnd.kubernetes.protobuf"})
    failure(r, 400)


def test_healthz_answers_while_the_slowest_body_is_decoded(objects):
    """3 MiB of YAML with a 3 MiB alias at the end (upstream's "3MB map with alias") is the slowest
    body to refuse: it is decoded on a worker thread while the event loop answers /healthz."""
    body = b"a: &a [{a}" + b",{a}" * (3 * 1024 * 1024 // 4 - 8) + b"]\nb: &b [*a]"
    assert len(body) <= 3 * 1024 * 1024
    answers: list[httpx.Response] = []
    done = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=objects.url, timeout=120) as c:
            answers.append(c.post(CMS, content=body, headers={"content-type": "application/yaml"}))
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        healthy_while_pending = 0
        with httpx.Client(base_url=objects.url, timeout=30) as c:
            while not done.is_set():
                r = c.get("/healthz")
                if r.status_code == 200 and not done.is_set():
                    healthy_while_pending += 1
    finally:
        sender.join(timeout=180)
    assert "excessive aliasing" in failure(answers[0], 400)["message"]
    assert healthy_while_pending > 0
