"""The hand-made list of bad inputs from the hardening issue, against a real `kubeling apiserver`
on a real store: every one is answered with a 4xx `Status` (upstream's message where upstream
has one), none with a 5xx, a plain-text error or a hang; /healthz answers while a slow body is
pending; the process's memory stays bounded across the whole list.

Query parameters, HTTP framing and eviction are checked to the letter; bodies (YAML, JSON
depth and integers, patches, protobuf) are also covered in depth by test_bad_bodies.py."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.apifuzz import is_status, rss_kib
from tests.unit.apiserver.test_bounded_bodies import BOMB

pytestmark = pytest.mark.etcd
PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"
DEPS = "/apis/apps/v1/namespaces/default/deployments"
NAME_PART = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


@dataclass
class Bad:
    """One bad request: sent with httpx (`method`, `path`, `params`, `headers`, `body`) or, for
    what an HTTP library will not send, as `raw` bytes. `code` None: any 4xx."""
    id: str
    method: str = "GET"
    path: str = PODS
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    raw: bytes | None = None
    code: int | None = 400
    message: str | None = None  # exact upstream message, when there is one


def deep_json(depth: int) -> bytes:
    return b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":' + b"[" * depth + b"]" * depth + b"}"


CASES = [
    # --- query parameters (item 6) ---
    Bad("limit beyond int64", params={"limit": "99999999999999999999999"},
        message='strconv.ParseInt: parsing "99999999999999999999999": value out of range'),
    Bad("limit not a number", params={"limit": "ten"}, message='strconv.ParseInt: parsing "ten": invalid syntax'),
    Bad("resourceVersion abc", params={"resourceVersion": "abc"},
        message='invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'),
    Bad("resourceVersion abc on get", path=f"{PODS}/anything", params={"resourceVersion": "abc"},
        message='invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'),
    Bad("watch resourceVersion abc", params={"watch": "true", "resourceVersion": "abc"},
        message='invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'),
    Bad("labelSelector %%%", params={"labelSelector": "%%%"},
        message=f'unable to parse requirement: <nil>: Invalid value: "%%%": {NAME_PART}'),
    Bad("label key of 10,000 characters", params={"labelSelector": "k" * 10000 + "=v"},
        message=f'unable to parse requirement: <nil>: Invalid value: "{"k" * 10000}": name part must be no more than 63 characters'),
    Bad("label value not a label value", params={"labelSelector": "a=%"},
        message="unable to parse requirement: values[0][a]: Invalid value: \"%\": a valid label must be an empty string or "
                "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    Bad("fieldSelector unparseable", params={"fieldSelector": "%%"}, message="invalid selector: '%%'; can't understand '%%'"),
    Bad("fieldSelector unknown field", params={"fieldSelector": "spec.bogus=1"}),
    Bad("timeoutSeconds not a number", params={"watch": "1", "timeoutSeconds": "soon"},
        message='strconv.ParseInt: parsing "soon": invalid syntax'),
    Bad("continue token garbage", params={"continue": "!!!"}),
    Bad("continue with resourceVersion", params={"continue": "abc", "resourceVersion": "7"},
        message="specifying resource version is not allowed when using continue"),
    Bad("resourceVersionMatch unknown", params={"resourceVersionMatch": "Sometime", "resourceVersion": "1"}, code=422,
        message='ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Sometime": supported values: '
                '"Exact", "NotOlderThan", ""'),
    Bad("sendInitialEvents on a list", params={"sendInitialEvents": "true"}, code=422),
    Bad("gracePeriodSeconds not a number", method="DELETE", path=f"{PODS}/anything", params={"gracePeriodSeconds": "x"},
        message='strconv.ParseInt: parsing "x": invalid syntax'),
    Bad("propagationPolicy unknown", method="DELETE", path=f"{CMS}/target", params={"propagationPolicy": "Bogus"}, code=422,
        message='DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Bogus": supported values: '
                '"Foreground", "Background", "Orphan", "nil"'),
    Bad("dryRun unknown", method="POST", path=CMS, params={"dryRun": "Some"}, body=b'{"metadata":{"name":"d"}}',
        headers={"content-type": "application/json"}),
    # --- eviction (item 8) ---
    Bad("eviction naming another pod", method="POST", path=f"{PODS}/victim/eviction", headers={"content-type": "application/json"},
        body=b'{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"bystander"}}',
        message="name in URL does not match name in Eviction object"),
    Bad("eviction naming another namespace", method="POST", path=f"{PODS}/victim/eviction", headers={"content-type": "application/json"},
        body=b'{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"victim","namespace":"kube-system"}}',
        message="the namespace of the provided object does not match the namespace sent on the request"),
    Bad("binding naming another pod", method="POST", path=f"{PODS}/victim/binding", headers={"content-type": "application/json"},
        body=b'{"apiVersion":"v1","kind":"Binding","metadata":{"name":"bystander"},"target":{"name":"node-1"}}',
        message="name in URL does not match name in Binding object"),
    Bad("continue token not base64", params={"limit": "1", "continue": "%%%"},
        message="invalid continue token: continue key is not valid"),
    Bad("continue token with a number for its key", params={"limit": "1", "continue": "eyJzdGFydCI6IDUsICJydiI6IDF9"},
        message="invalid continue token: continue key is not valid"),
    # --- request options (metav1 validation: ValidatePatchOptions, ValidateCreateOptions) ---
    Bad("apply patch without fieldManager", method="PATCH", path=f"{CMS}/target",
        headers={"content-type": "application/apply-patch+yaml"}, body=b"apiVersion: v1\nkind: ConfigMap\n", code=422,
        message='PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'),
    Bad("force on a merge patch", method="PATCH", path=f"{CMS}/target", params={"force": "true"},
        headers={"content-type": "application/merge-patch+json"}, body=b'{"data":{"a":"forced"}}', code=422,
        message='PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'),
    Bad("fieldManager over 128 bytes", method="POST", path=CMS, params={"fieldManager": "m" * 129},
        headers={"content-type": "application/json"},
        body=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"long-manager"}}', code=422,
        message='CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes'),
    Bad("fieldManager with a control character", method="PUT", path=f"{CMS}/target", params={"fieldManager": "a\tb"},
        headers={"content-type": "application/json"},
        body=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"target"},"data":{"a":"put"}}', code=422,
        message='UpdateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\\tb": invalid character U+0009 (at position 1)'),
    # --- HTTP layers (item 7) ---
    Bad("TRACE", method="TRACE", code=405, message="the server does not allow this method on the requested resource"),
    Bad("%0A in a name", path=f"{PODS}/a%0Ab", code=404, message='pods "a\nb" not found'),
    Bad("%0A between segments", path="/api%0A/v1", code=404, message="the server could not find the requested resource"),
    Bad("unknown method token", raw=b"BREW /api/v1/pods HTTP/1.1\r\nHost: x\r\n\r\n"),
    Bad("Content-Length not a number", raw=b"POST " + CMS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"),
    Bad("two Content-Lengths", raw=b"POST " + CMS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
    Bad("newline in the request target", raw=b"GET /api/v1/pods\n HTTP/1.1\r\nHost: x\r\n\r\n"),
    Bad("header flood", raw=b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 300) for i in range(8000)) + b"\r\n",
        code=431),
    Bad("one 2 MiB header", raw=b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * (2 << 20) + b"\r\n\r\n", code=431),
    Bad("declared body over 3 MiB", method="POST", path=CMS, headers={"content-type": "application/json"},
        body=b'{"metadata":{"name":"big"},"data":{"a":"' + b"x" * (3 << 20) + b'"}}', code=413,
        message="Request entity too large: limit is 3145728"),
    Bad("object over the store's request limit", method="POST", path=PODS, headers={"content-type": "application/json"},
        body=json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge-args"},
                         "spec": {"containers": [{"name": "c", "image": "nginx", "args": ["x" * 2_000_000]}]}}).encode(), code=413),
    Bad("unsupported content type", method="POST", path=CMS, headers={"content-type": "text/csv"}, body=b"a,b", code=415),
    # --- bodies ---
    Bad("YAML alias bomb", method="POST", path=CMS, headers={"content-type": "application/yaml"}, body=BOMB),
    Bad("JSON nested 100,000 deep", method="POST", path=CMS, headers={"content-type": "application/json"}, body=deep_json(100000)),
    Bad("JSON not JSON", method="POST", path=CMS, headers={"content-type": "application/json"}, body=b'{"metadata": '),
    Bad("2^64 in an int32 field", method="POST", path=DEPS, headers={"content-type": "application/json"},
        body=b'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"huge"},"spec":{"replicas":18446744073709551616}}'),
    Bad("2^64 replicas through /scale", method="PUT", path=f"{DEPS}/target/scale", headers={"content-type": "application/json"},
        body=b'{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"target"},"spec":{"replicas":18446744073709551616}}'),
    Bad("JSON patch unknown op", method="PATCH", path=f"{CMS}/target", headers={"content-type": "application/json-patch+json"},
        body=b'[{"op":"launch","path":"/data/a"}]', code=None),
    Bad("JSON patch not a list", method="PATCH", path=f"{CMS}/target", headers={"content-type": "application/json-patch+json"},
        body=b'{"op":"add"}', code=None),
    Bad("JSON patch test fails", method="PATCH", path=f"{CMS}/target", headers={"content-type": "application/json-patch+json"},
        body=b'[{"op":"test","path":"/data/a","value":"other"}]', code=None),
    Bad("merge patch not an object", method="PATCH", path=f"{CMS}/target", headers={"content-type": "application/merge-patch+json"},
        body=b'"text"', code=None),
    Bad("strategic patch with a bad directive", method="PATCH", path=f"{DEPS}/target",
        headers={"content-type": "application/strategic-merge-patch+json"},
        body=b'{"spec":{"template":{"spec":{"containers":[{"$patch":"explode","name":"c"}]}}}}', code=None),
    Bad("protobuf junk", method="POST", path=CMS, headers={"content-type": "application/vnd.kubernetes.protobuf"},
        body=b"k8s\x00\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01garbage"),
    Bad("protobuf without the magic", method="POST", path=CMS, headers={"content-type": "application/vnd.kubernetes.protobuf"},
        body=b"\x0a\x02v1\x12\x09ConfigMap"),
]


def raw_exchange(url: str, data: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    """Send bytes an HTTP library would not; read the answer until the server closes."""
    u = urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server refused and closed while we were still sending: its answer is read below
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), answer[:200]
    return int(head.split()[1]), body


@pytest.fixture(scope="module")
def objects(cluster):
    h = cluster.http
    assert h.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"}, "data": {"a": "x"}}).status_code == 201
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "target"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    assert h.post(DEPS, json=dep).status_code == 201
    for name in ("victim", "bystander"):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
        assert h.post(PODS, json=pod).status_code == 201
    return cluster


def send(cluster, case: Bad) -> tuple[int, bytes]:
    if case.raw is not None:
        return raw_exchange(cluster.url, case.raw)
    r = cluster.http.request(case.method, case.path, params=case.params, headers=case.headers, content=case.body, timeout=60)
    return r.status_code, r.content


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_status(objects, case):
    code, body = send(objects, case)
    assert 400 <= code < 500, f"{case.id}: {code} {body[:300]!r}"
    assert is_status(body, code), f"{case.id}: not a Status: {body[:300]!r}"
    if case.code is not None:
        assert code == case.code, body[:300]
    if case.message is not None:
        assert json.loads(body)["message"] == case.message
    assert objects.http.get("/healthz").status_code == 200


def test_nothing_was_evicted_or_written(objects):
    """The refused evictions left both pods, the refused binding bound neither; the refused creates
    wrote nothing."""
    h = objects.http
    assert h.get(f"{PODS}/victim").status_code == 200 and h.get(f"{PODS}/bystander").status_code == 200
    assert not h.get(f"{PODS}/victim").json()["spec"].get("nodeName")
    assert not h.get(f"{PODS}/bystander").json()["spec"].get("nodeName")
    names = {o["metadata"]["name"] for o in h.get(CMS).json()["items"]}
    assert names.isdisjoint({"deep", "big", "bomb", "d", "long-manager"})
    assert h.get(f"{CMS}/target").json()["data"] == {"a": "x"}  # the refused patches and update changed nothing


def test_a_read_beyond_the_stores_revision_is_upstreams_504(objects):
    """resourceVersionMatch=Exact at a revision the store has not reached: upstream's
    TooLargeResourceVersionError (504 Timeout, cause ResourceVersionTooLarge), not a store error."""
    r = objects.http.get(PODS, params={"resourceVersionMatch": "Exact", "resourceVersion": "18446744073709551615"})
    body = r.json()
    assert r.status_code == 504 and body["reason"] == "Timeout" and body["message"].startswith("Timeout: Too large resource version: 18446744073709551615, current: ")
    assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_slow_body_is_cut_off_and_healthz_answers_meanwhile(objects):
    """7 bytes of a declared 2 MB body, then nothing: /healthz still answers while that request
    is pending, and the request gets a 408 Status once the body timeout (10 s without data) passes."""
    u = urlsplit(objects.url)
    with socket.create_connection((u.hostname, u.port), timeout=60) as s:
        s.sendall(b"POST " + CMS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2000000\r\n\r\n{\"a\":1")
        start = time.monotonic()
        assert httpx.get(objects.url + "/healthz", timeout=5).status_code == 200
        assert time.monotonic() - start < 5  # answered while the slow request is still open
        chunks = []
        while c := s.recv(65536):
            chunks.append(c)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head.lower()
    assert is_status(body, 408) and json.loads(body)["reason"] == "Timeout"


def test_memory_stays_bounded_across_the_list(objects):
    """The heavy inputs ten times over: the apiserver's RSS grows by less than 150 MB."""
    pid = objects.api.pid
    before = rss_kib(pid)
    heavy = [c for c in CASES if c.body is not None and len(c.body) > 100_000 or c.raw is not None and len(c.raw) > 100_000]
    assert len(heavy) >= 4
    for _ in range(10):
        for case in heavy:
            code, _ = send(objects, case)
            assert 400 <= code < 500
    assert rss_kib(pid) - before < 150 * 1024
    assert objects.http.get("/healthz").status_code == 200
