"""Endpoints and EndpointSlices, namespaces, service accounts and the garbage collector with
real processes and the real kubectl."""
from __future__ import annotations

import pytest

from tests.support.procs import wait_until

from .conftest import CMCluster

pytestmark = pytest.mark.etcd

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx
        ports:
        - {name: http, containerPort: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 8080, targetPort: http}
"""


def slices(kc: CMCluster, svc: str, ns: str = "default") -> list[dict]:
    return kc.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=kubernetes.io/service-name={svc}")["items"]


def test_endpoints_and_slices_follow_ready_pods(kc: CMCluster):
    kc.apply_yaml(WEB)
    pods = kc.running("app=web", 2)
    ips = sorted(p["status"]["podIP"] for p in pods)

    def ep_ips():
        ep = kc.get("/api/v1/namespaces/default/endpoints/web")
        return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])
    wait_until(lambda: ep_ips() == ips, 30, what="Endpoints with both pod IPs")
    ep = kc.get("/api/v1/namespaces/default/endpoints/web")
    assert ep["subsets"][0]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert {a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]} == {p["metadata"]["name"] for p in pods}

    def slice_ips():
        return sorted(e["addresses"][0] for s in slices(kc, "web") for e in s["endpoints"] or []
                      if e["conditions"]["ready"])
    wait_until(lambda: slice_ips() == ips, 30, what="EndpointSlice with both pod IPs")
    sl = slices(kc, "web")[0]
    assert sl["addressType"] == "IPv4" and sl["ports"][0]["port"] == 80
    assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    out = kc.kubectl("get", "endpoints", "web", check=True).stdout
    assert f"{ips[0]}:80" in out or f"{ips[1]}:80" in out, out

    # scale to 3: the new pod appears once ready; scale to 1: the others leave
    kc.kubectl("scale", "deployment/web", "--replicas=3", check=True)
    three = sorted(p["status"]["podIP"] for p in kc.running("app=web", 3))
    wait_until(lambda: ep_ips() == three and slice_ips() == three, 30, what="3 endpoints")
    kc.kubectl("scale", "deployment/web", "--replicas=1", check=True)
    wait_until(lambda: len(ep_ips()) == 1 and len(slice_ips()) == 1, 30, what="1 endpoint")

    kc.kubectl("delete", "service", "web", check=True)
    wait_until(lambda: kc.http.get("/api/v1/namespaces/default/endpoints/web").status_code == 404 and not slices(kc, "web"),
               30, what="endpoints and slices removed with the Service")


def test_default_service_account_and_namespace_deletion(kc: CMCluster):
    kc.kubectl("create", "namespace", "scratch", check=True)
    wait_until(lambda: kc.http.get("/api/v1/namespaces/scratch/serviceaccounts/default").status_code == 200, 30,
               what="default ServiceAccount in scratch")
    kc.kubectl("delete", "serviceaccount", "default", "-n", "scratch", check=True)
    wait_until(lambda: kc.http.get("/api/v1/namespaces/scratch/serviceaccounts/default").status_code == 200, 30,
               what="default ServiceAccount recreated")
    kc.apply_yaml(WEB.replace("name: web", "name: sweb"), ns="scratch")
    kc.kubectl("create", "configmap", "cfg", "-n", "scratch", "--from-literal=a=b", check=True)
    kc.running("app=web", 2, ns="scratch")
    kc.kubectl("delete", "namespace", "scratch", "--wait=false", check=True)
    wait_until(lambda: kc.http.get("/api/v1/namespaces/scratch").status_code == 404, 60,
               what="namespace scratch gone")
    for path in ("/api/v1/namespaces/scratch/pods", "/api/v1/namespaces/scratch/configmaps",
                 "/apis/apps/v1/namespaces/scratch/deployments", "/apis/apps/v1/namespaces/scratch/replicasets",
                 "/api/v1/namespaces/scratch/services"):
        assert kc.get(path)["items"] == [], path


GC = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: nginx
        image: nginx
"""


def rs_of(kc: CMCluster, app: str) -> list[dict]:
    return kc.get(f"/apis/apps/v1/namespaces/default/replicasets?labelSelector=app={app}")["items"]


def test_garbage_collection_background_foreground_orphan(kc: CMCluster):
    for name in ("gc-bg", "gc-fg", "gc-or"):
        kc.apply_yaml(GC.format(name=name))
    for name in ("gc-bg", "gc-fg", "gc-or"):
        kc.running(f"app={name}", 2)

    kc.kubectl("delete", "deployment", "gc-bg", "--cascade=background", check=True)
    wait_until(lambda: not rs_of(kc, "gc-bg") and not kc.live_pods("app=gc-bg"), 60,
               what="background cascade removed the ReplicaSet and pods")

    kc.kubectl("delete", "deployment", "gc-fg", "--cascade=foreground", "--wait=false", check=True)
    wait_until(lambda: kc.http.get("/apis/apps/v1/namespaces/default/deployments/gc-fg").status_code == 404, 60,
               what="foreground delete finished")
    assert not rs_of(kc, "gc-fg")
    assert not kc.live_pods("app=gc-fg")

    kc.kubectl("delete", "deployment", "gc-or", "--cascade=orphan", check=True)
    wait_until(lambda: kc.http.get("/apis/apps/v1/namespaces/default/deployments/gc-or").status_code == 404, 60,
               what="orphaning delete finished")
    rs = rs_of(kc, "gc-or")
    assert len(rs) == 1 and not rs[0]["metadata"].get("ownerReferences")
    assert len(kc.running("app=gc-or", 2)) == 2  # the orphaned ReplicaSet keeps its pods
    kc.kubectl("delete", "rs", rs[0]["metadata"]["name"], check=True)
    wait_until(lambda: not kc.live_pods("app=gc-or"), 60, what="pods of the deleted orphan ReplicaSet")
