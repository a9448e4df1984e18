"""The REST semantics clients rely on, checked over HTTP: optimistic concurrency, watch from a
resourceVersion, 410 Gone, pagination, Status errors, graceful deletion, service allocation."""
from __future__ import annotations

import base64
import json
import threading

import httpx
import pytest

from tests.integration.apiserver.conftest import start_apiserver
from tests.support.procs import wait_until

pytestmark = pytest.mark.etcd
PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}


def watch_lines(http: httpx.Client, url: str, n: int, params: dict) -> list[dict]:
    """Read the first n events of a watch (the stream is closed afterwards)."""
    out: list[dict] = []
    with http.stream("GET", url, params={"watch": "true", **params}, timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.strip():
                out.append(json.loads(line))
            if len(out) >= n:
                break
    return out


def test_create_conflict_update_and_generate_name(cluster):
    h = cluster.http
    r = h.post(PODS, json=pod("occ"))
    assert r.status_code == 201
    created = r.json()
    rv = created["metadata"]["resourceVersion"]
    assert created["metadata"]["uid"] and created["metadata"]["creationTimestamp"]
    assert h.post(PODS, json=pod("occ")).json()["reason"] == "AlreadyExists"
    upd = dict(created, metadata=dict(created["metadata"], labels={"v": "1"}))
    r = h.put(f"{PODS}/occ", json=upd)
    assert r.status_code == 200 and int(r.json()["metadata"]["resourceVersion"]) > int(rv)
    stale = h.put(f"{PODS}/occ", json=upd)  # still carries the old resourceVersion
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
    assert 'Operation cannot be fulfilled on pods "occ"' in stale.json()["message"]
    r = h.post(PODS, json={**pod(""), "metadata": {"generateName": "gen-"}})
    assert r.status_code == 201 and r.json()["metadata"]["name"].startswith("gen-") and len(r.json()["metadata"]["name"]) == 9


def test_status_subresource_and_generation(cluster):
    h = cluster.http
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gen"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                                                                        "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    url = "/apis/apps/v1/namespaces/default/deployments"
    d = h.post(url, json={**dep, "status": {"replicas": 9}}).json()
    assert d["status"] == {} and d["metadata"]["generation"] == 1
    d = h.patch(f"{url}/gen/status", content=json.dumps({"status": {"replicas": 2, "observedGeneration": 1}}),
                headers={"Content-Type": "application/merge-patch+json"}).json()
    assert d["status"]["replicas"] == 2 and d["metadata"]["generation"] == 1
    d = h.patch(f"{url}/gen", content=json.dumps({"metadata": {"labels": {"l": "1"}}, "status": {"replicas": 7}}),
                headers={"Content-Type": "application/merge-patch+json"}).json()
    assert d["status"]["replicas"] == 2 and d["metadata"]["generation"] == 1  # metadata-only change, status ignored
    d = h.patch(f"{url}/gen/scale", content=json.dumps({"spec": {"replicas": 4}}),
                headers={"Content-Type": "application/merge-patch+json"}).json()
    assert d["kind"] == "Scale" and d["spec"]["replicas"] == 4 and d["status"]["selector"] == "a=b"
    assert h.get(f"{url}/gen").json()["metadata"]["generation"] == 2


def test_watch_from_resource_version_has_no_gap_or_duplicate(cluster):
    h = cluster.http
    h.post("/api/v1/namespaces", json={"metadata": {"name": "w1"}})
    url = "/api/v1/namespaces/w1/configmaps"
    rv0 = h.get(url).json()["metadata"]["resourceVersion"]
    for i in range(3):
        assert h.post(url, json={"metadata": {"name": f"c{i}"}, "data": {"i": str(i)}}).status_code == 201
    h.delete(f"{url}/c1")
    events = watch_lines(h, url, 4, {"resourceVersion": rv0})
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "c0"), ("ADDED", "c1"), ("ADDED", "c2"), ("DELETED", "c1")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4
    # from the list's resourceVersion: only later changes, nothing replayed
    lst = h.get(url).json()
    got: list[dict] = []
    t = threading.Thread(target=lambda: got.extend(watch_lines(h, url, 1, {"resourceVersion": lst["metadata"]["resourceVersion"]})))
    t.start()
    h.post(url, json={"metadata": {"name": "later"}})
    t.join(30)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "later")]
    assert 'apiserver_longrunning_requests{resource="configmaps"}' in h.get("/metrics").text
    # resourceVersion=0 starts with the current state, filtered by the selector
    events = watch_lines(h, url, 1, {"resourceVersion": "0", "fieldSelector": "metadata.name=c2"})
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "c2")]


def test_watch_table_and_expired_resource_version(cluster):
    h = cluster.http
    url = "/api/v1/namespaces/default/secrets"
    for i in range(3):
        h.post(url, json={"metadata": {"name": f"s{i}"}, "stringData": {"k": "v"}})
    head = h.get(url).json()["metadata"]["resourceVersion"]
    r = httpx.post(cluster.store_url + "/v3/kv/compaction", json={"revision": head, "physical": True})
    assert r.status_code == 200
    events = watch_lines(h, url, 1, {"resourceVersion": "2"})
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"
    ev = watch_lines(h.__class__(base_url=cluster.url, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}),
                     url, 1, {"resourceVersion": "0"})[0]
    assert ev["object"]["kind"] == "Table" and ev["object"]["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_pagination_and_selectors(cluster):
    h = cluster.http
    h.post("/api/v1/namespaces", json={"metadata": {"name": "pages"}})
    url = "/api/v1/namespaces/pages/configmaps"
    for i in range(5):
        h.post(url, json={"metadata": {"name": f"p{i}", "labels": {"even": str(i % 2 == 0).lower()}}})
    first = h.get(url, params={"limit": 2}).json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["p0", "p1"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = h.get(url, params={"limit": 2, "continue": first["metadata"]["continue"]}).json()
    third = h.get(url, params={"limit": 2, "continue": second["metadata"]["continue"]}).json()
    assert [i["metadata"]["name"] for i in second["items"] + third["items"]] == ["p2", "p3", "p4"]
    assert "continue" not in third["metadata"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    old_rv = first["metadata"]["resourceVersion"]
    h.post(url, json={"metadata": {"name": "p5"}})
    exact = h.get(url, params={"resourceVersion": old_rv, "resourceVersionMatch": "Exact"}).json()
    assert len(exact["items"]) == 5 and exact["metadata"]["resourceVersion"] == old_rv  # the past, without p5
    assert len(h.get(url).json()["items"]) == 6
    sel = h.get(url, params={"labelSelector": "even in (true)"}).json()
    assert [i["metadata"]["name"] for i in sel["items"]] == ["p0", "p2", "p4"]
    bad = h.get(url, params={"fieldSelector": "spec.nope=1"})
    assert bad.status_code == 400 and bad.json()["reason"] == "BadRequest"


def test_every_client_mistake_is_a_status(cluster):
    h = cluster.http

    def status(r: httpx.Response, code: int, reason: str) -> None:
        body = r.json()
        assert r.status_code == code and body["kind"] == "Status" and body["code"] == code and body["reason"] == reason, body

    status(h.get("/no/such/path"), 404, "NotFound")
    status(h.get("/api/v1/nosuchthings"), 404, "NotFound")
    status(h.get(f"{PODS}/missing"), 404, "NotFound")
    status(h.post(PODS, content=b"{not json", headers={"Content-Type": "application/json"}), 400, "BadRequest")
    status(h.post(PODS, content=b"<pod/>", headers={"Content-Type": "application/xml"}), 415, "UnsupportedMediaType")
    status(h.patch(f"{PODS}/x", content=b"{}", headers={"Content-Type": "text/html"}), 415, "UnsupportedMediaType")
    status(h.post(PODS, content=b"x" * (3 * 1024 * 1024 + 10), headers={"Content-Type": "application/json"}), 413, "RequestEntityTooLarge")
    status(h.put(PODS, json=pod("x")), 405, "MethodNotAllowed")
    status(h.post(PODS, json={"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "Bad_Name"},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}), 422, "Invalid")
    r = h.post(PODS, json={"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "nocontainers"}, "spec": {}})
    status(r, 422, "Invalid")
    assert r.json()["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}]
    status(h.post(PODS, params={"fieldValidation": "Strict"}, json={**pod("strict"), "bogus": 1}), 400, "BadRequest")
    r = h.post(PODS, params={"fieldValidation": "Warn"}, json={**pod("warned"), "bogus": 1})
    assert r.status_code == 201 and 'unknown field \\"bogus\\"' in r.headers["warning"] and "bogus" not in r.json()
    status(h.post("/api/v1/namespaces/nowhere/pods", json=pod("x")), 404, "NotFound")


def test_graceful_pod_deletion_and_finalizers(cluster):
    h = cluster.http
    h.post(PODS, json=pod("graceful"))
    r = h.post(f"{PODS}/graceful/binding", json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "graceful"},
                                                  "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}})
    assert r.status_code == 201
    assert h.post(f"{PODS}/graceful/binding", json={"metadata": {"name": "graceful"}, "target": {"name": "node-2"}}).status_code == 409
    r = h.request("DELETE", f"{PODS}/graceful", json={"propagationPolicy": "Background"})
    assert r.status_code == 200 and r.json()["metadata"]["deletionTimestamp"]
    assert r.json()["metadata"]["deletionGracePeriodSeconds"] == 30
    assert h.get(f"{PODS}/graceful").status_code == 200
    assert h.request("DELETE", f"{PODS}/graceful", json={"gracePeriodSeconds": 0}).status_code == 200
    assert h.get(f"{PODS}/graceful").status_code == 404
    cm = "/api/v1/namespaces/default/configmaps"
    h.post(cm, json={"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    r = h.delete(f"{cm}/held")
    assert r.status_code == 200 and r.json()["metadata"]["deletionTimestamp"]
    assert h.get(f"{cm}/held").status_code == 200
    h.patch(f"{cm}/held", content=json.dumps({"metadata": {"finalizers": None}}), headers={"Content-Type": "application/merge-patch+json"})
    assert h.get(f"{cm}/held").status_code == 404


def test_service_allocation(cluster):
    h = cluster.http
    url = "/api/v1/namespaces/default/services"

    def svc(name: str, node_port: int | None = None, typ: str = "NodePort", ip: str | None = None) -> dict:
        port = {"port": 80}
        if node_port:
            port["nodePort"] = node_port
        spec = {"type": typ, "ports": [port], "selector": {"app": name}}
        if ip:
            spec["clusterIP"] = ip
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}

    a = h.post(url, json=svc("np-a", 30100)).json()
    assert a["spec"]["ports"][0]["nodePort"] == 30100 and a["spec"]["clusterIP"].startswith("10.96.")
    assert a["spec"]["ports"][0]["targetPort"] == 80 and a["spec"]["sessionAffinity"] == "None"
    r = h.post(url, json=svc("np-b", 30100))
    assert r.status_code == 422 and "provided port is already allocated" in r.json()["message"]
    r = h.post(url, json=svc("np-c", 80))
    assert r.status_code == 422 and "The range of valid ports is 30000-32767" in r.json()["message"]
    r = h.post(url, json=svc("ip-a", typ="ClusterIP", ip=a["spec"]["clusterIP"]))
    assert r.status_code == 422 and "provided IP is already allocated" in r.json()["message"]
    r = h.post(url, json=svc("ip-b", typ="ClusterIP", ip="192.168.0.1"))
    assert r.status_code == 422 and "is not in the valid range" in r.json()["message"]
    assert h.get(f"{url}/np-b").status_code == 404  # nothing half-written
    lb = h.post(url, json=svc("lb", typ="LoadBalancer")).json()
    assert 30000 <= lb["spec"]["ports"][0]["nodePort"] <= 32767 and lb["status"]["loadBalancer"]["ingress"]
    auto = h.post(url, json=svc("np-auto")).json()
    assert auto["spec"]["ports"][0]["nodePort"] != lb["spec"]["ports"][0]["nodePort"]
    h.delete(f"{url}/np-a")
    again = h.post(url, json=svc("np-b", 30100, ip=a["spec"]["clusterIP"]))
    assert again.status_code == 201, again.text  # released on delete: port and IP are free again
    keys = httpx.post(cluster.store_url + "/v3/kv/range", json={"key": base64.b64encode(b"/registry/ranges/servicenodeports/30100").decode()}).json()
    assert keys.get("count") == "1"


def test_concurrent_nodeport_requests_one_winner(cluster):
    """Two apiservers on one store race for the same nodePort: exactly one gets it."""
    url2, proc2 = start_apiserver(cluster.group, cluster.store_url, name="apiserver-2")
    try:
        results: list[int] = []

        def create(base: str, name: str) -> None:
            body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31999}]}}
            results.append(httpx.post(base + "/api/v1/namespaces/default/services", json=body, timeout=30).status_code)
        threads = [threading.Thread(target=create, args=(b, f"race-{i}")) for i, b in enumerate([cluster.url, url2] * 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == [201, 422, 422, 422, 422, 422]
        wait_until(lambda: httpx.get(url2 + "/api/v1/namespaces/default/services/race-0", timeout=5).status_code in (200, 404))
    finally:
        proc2.stop()


def test_namespace_termination_and_finalize(cluster):
    h = cluster.http
    h.post("/api/v1/namespaces", json={"metadata": {"name": "doomed"}})
    h.post("/api/v1/namespaces/doomed/configmaps", json={"metadata": {"name": "inside"}})
    r = h.delete("/api/v1/namespaces/doomed")
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Terminating"
    r = h.post("/api/v1/namespaces/doomed/configmaps", json={"metadata": {"name": "late"}})
    assert r.status_code == 403 and "because it is being terminated" in r.json()["message"]
    ns = h.get("/api/v1/namespaces/doomed").json()
    ns["spec"]["finalizers"] = []
    assert h.put("/api/v1/namespaces/doomed/finalize", json=ns).status_code == 200
    assert h.get("/api/v1/namespaces/doomed").status_code == 404


def test_eviction_and_node_subresources(cluster):
    h = cluster.http
    h.post(PODS, json=pod("evictme"))
    r = h.post(f"{PODS}/evictme/eviction", json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "evictme"}})
    assert r.status_code == 201 and h.get(f"{PODS}/evictme").status_code == 404
    h.post(PODS, json=pod("logs"))
    r = h.get(f"{PODS}/logs/log")
    assert r.status_code == 400 and r.json()["message"] == 'container "c" in pod "logs" is waiting to start: ContainerCreating'


def test_sigterm_clean_shutdown_and_help(cluster):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "kubeling", "apiserver", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--etcd-servers" in out.stdout and "--service-node-port-range" in out.stdout
    _, proc = start_apiserver(cluster.group, cluster.store_url, name="apiserver-term")
    proc.stop(timeout=20)
    assert proc.popen.returncode == 0


def test_watch_list_initial_events_end_bookmark(cluster):
    h = cluster.http
    h.post("/api/v1/namespaces", json={"metadata": {"name": "wl"}})
    h.post("/api/v1/namespaces/wl/configmaps", json={"metadata": {"name": "one"}})
    events = watch_lines(h, "/api/v1/namespaces/wl/configmaps", 2,
                         {"sendInitialEvents": "true", "allowWatchBookmarks": "true", "resourceVersionMatch": "NotOlderThan"})
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "one"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    r = h.get("/api/v1/namespaces/wl/configmaps", params={"watch": "true", "sendInitialEvents": "true"})
    assert r.status_code == 422


def test_kubernetes_service_and_endpoints(cluster):
    h = cluster.http
    svc = h.get("/api/v1/namespaces/default/services/kubernetes").json()
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["ports"][0]["port"] == 443
    ep = h.get("/api/v1/namespaces/default/endpoints/kubernetes").json()
    assert ep["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1"


def test_store_failover_to_a_live_endpoint(cluster, tmp_path):
    """The first --etcd-servers entry is dead: the apiserver must use the next one."""
    from tests.support.procs import free_port
    dead = f"http://127.0.0.1:{free_port()}"
    url, proc = start_apiserver(cluster.group, f"{dead},{cluster.store_url}", name="apiserver-failover")
    try:
        r = httpx.post(url + "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "via-failover"}}, timeout=30)
        assert r.status_code == 201
        assert cluster.http.get("/api/v1/namespaces/default/configmaps/via-failover").status_code == 200
    finally:
        proc.stop()


@pytest.mark.parametrize("method,path,body", [
    ("PUT", "/apis/apps/v1/namespaces/default/deployments/gen/scale", b'{"metadata":"x"}'),
    ("PUT", "/apis/apps/v1/namespaces/default/deployments/gen/scale", b'{"spec":"s"}'),
    ("POST", f"{PODS}/occ/binding", b"1"),
    ("POST", f"{PODS}/occ/binding", b'[{"op":"add"}]'),
    ("POST", PODS, b'{"metadata":{"name":"x","labels":{"a":1}},"spec":{"containers":[]}}'),
    ("POST", PODS, b'{"metadata":{"name":"x"},"spec":{"containers":[1]}}'),
    ("POST", PODS, b"\xff\xfe"),
    ("DELETE", f"{PODS}/occ?gracePeriodSeconds=abc", b""),
    ("DELETE", f"{PODS}/occ", b'{"gracePeriodSeconds":"soon"}'),
])
def test_malformed_requests_are_400s_not_500s(cluster, method, path, body):
    r = cluster.http.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest", r.text


def test_events_expire_through_a_store_lease(cluster):
    h = cluster.http
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "ttl.1"}, "reason": "Test", "message": "m",
          "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"}}
    assert h.post("/api/v1/namespaces/default/events", json=ev).status_code == 201
    key = base64.b64encode(b"/registry/events/default/ttl.1").decode()
    kv = httpx.post(cluster.store_url + "/v3/kv/range", json={"key": key}).json()["kvs"][0]
    assert int(kv.get("lease", 0)) != 0
    ttl = httpx.post(cluster.store_url + "/v3/lease/timetolive", json={"ID": kv["lease"]}).json()
    assert 3600 <= int(ttl["grantedTTL"]) <= 3700
    h.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "nolease"}})
    kv = httpx.post(cluster.store_url + "/v3/kv/range", json={"key": base64.b64encode(b"/registry/configmaps/default/nolease").decode()}).json()["kvs"][0]
    assert "lease" not in kv  # only kinds with a TTL are leased


def test_periodic_compaction_is_coordinated(cluster):
    """An apiserver with a short --etcd-compaction-interval compacts the store (to the revision
    it saw one interval earlier), so old revisions become unreadable."""
    url, proc = start_apiserver(cluster.group, cluster.store_url, name="apiserver-compactor",
                                extra=["--etcd-compaction-interval=1s"])
    try:
        r = httpx.post(url + "/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "compact-me"}}, timeout=30)
        rev = r.json()["metadata"]["resourceVersion"]
        key = base64.b64encode(b"/registry/configmaps/default/compact-me").decode()

        def compacted() -> bool:
            httpx.post(url + "/api/v1/namespaces/default/configmaps", json={"metadata": {"generateName": "tick-"}}, timeout=30)
            r = httpx.post(cluster.store_url + "/v3/kv/range", json={"key": key, "revision": rev}, timeout=10)
            return r.status_code == 400 and "compacted" in r.text
        wait_until(compacted, timeout=60, interval=0.5, what="the store to be compacted past the object's revision")
        marker = httpx.post(cluster.store_url + "/v3/kv/range", json={"key": base64.b64encode(b"compact_rev_key").decode()}).json()
        assert int(marker["kvs"][0]["version"]) >= 2
    finally:
        proc.stop()


def test_token_auth_file(cluster):
    tokens = cluster.base / "tokens.csv"
    tokens.write_text('s3cret,alice,1001,"dev,ops"\n')
    url, proc = start_apiserver(cluster.group, cluster.store_url, name="apiserver-auth", extra=[f"--token-auth-file={tokens}"])
    try:
        assert httpx.get(url + "/version").status_code == 200
        r = httpx.get(url + "/api/v1/namespaces")
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
        assert httpx.get(url + "/api/v1/namespaces", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url + "/api/v1/namespaces", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        who = httpx.post(url + "/apis/authentication.k8s.io/v1/selfsubjectreviews", headers={"Authorization": "Bearer s3cret"},
                         json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).json()
        assert who["status"]["userInfo"] == {"username": "alice", "uid": "1001", "groups": ["dev", "ops", "system:authenticated"]}
    finally:
        proc.stop()


def test_object_count_quota(cluster):
    h = cluster.http
    h.post("/api/v1/namespaces", json={"metadata": {"name": "counted"}})
    q = {"metadata": {"name": "counts"}, "spec": {"hard": {"count/deployments.apps": "1", "configmaps": "2", "services.nodeports": "0"}}}
    assert h.post("/api/v1/namespaces/counted/resourcequotas", json=q).status_code == 201
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
           "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                                                                        "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    url = "/apis/apps/v1/namespaces/counted/deployments"
    assert h.post(url, json=dep).status_code == 201
    r = h.post(url, json={**dep, "metadata": {"name": "d2"}})
    assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
    assert r.json()["message"] == ('deployments.apps "d2" is forbidden: exceeded quota: counts, requested: count/deployments.apps=1, '
                                   'used: count/deployments.apps=1, limited: count/deployments.apps=1')
    assert h.post("/api/v1/namespaces/counted/configmaps", json={"metadata": {"name": "c1"}}).status_code == 201
    assert h.post("/api/v1/namespaces/counted/configmaps", json={"metadata": {"name": "c1"}}).status_code == 409
    used = h.get("/api/v1/namespaces/counted/resourcequotas/counts").json()["status"]["used"]
    assert used["configmaps"] == "1"  # a create that failed (AlreadyExists) gave its charge back
    assert h.post("/api/v1/namespaces/counted/configmaps", json={"metadata": {"name": "c2"}}).status_code == 201
    assert h.post("/api/v1/namespaces/counted/configmaps", json={"metadata": {"name": "c3"}}).status_code == 403
    svc = {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    r = h.post("/api/v1/namespaces/counted/services", json=svc)
    assert r.status_code == 403 and "services.nodeports=1" in r.json()["message"]
    # turning a ClusterIP Service into a NodePort one is charged too
    assert h.post("/api/v1/namespaces/counted/services", json={**svc, "spec": {"ports": [{"port": 80}]}}).status_code == 201
    r = h.patch("/api/v1/namespaces/counted/services/np", content=json.dumps({"spec": {"type": "NodePort"}}),
                headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 403 and "exceeded quota: counts, requested: services.nodeports=1" in r.json()["message"]
    assert h.get("/api/v1/namespaces/counted/services/np").json()["spec"]["type"] == "ClusterIP"
    assert h.delete(f"{url}/d1").status_code == 200
    assert h.post(url, json={**dep, "metadata": {"name": "d2"}}).status_code == 201  # released on delete


def test_readyz_reports_the_store(cluster, tmp_path):
    """With its only store unreachable, the apiserver stays live but is not ready, and API calls
    get a 503 Status instead of hanging or failing with a 500."""
    from tests.integration.apiserver.conftest import start_store_proc
    store_url, own = start_store_proc(cluster.group, tmp_path, name="store-own")
    url, proc = start_apiserver(cluster.group, store_url, name="apiserver-lonely")
    try:
        own.stop()
        assert httpx.get(url + "/livez").status_code == 200
        r = httpx.get(url + "/readyz", timeout=30)
        assert r.status_code == 500 and "[-]etcd failed" in r.text
        r = httpx.get(url + "/api/v1/namespaces", timeout=60)
        assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
    finally:
        proc.stop()
