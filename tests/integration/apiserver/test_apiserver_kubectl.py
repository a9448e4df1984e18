"""The real kubectl 1.32 against `kubeling apiserver` over a real store: the CKA note's commands
and YAML files (typos included, accepted or rejected as a real cluster does)."""
from __future__ import annotations

import json
import threading

import pytest
import yaml

from tests.support.procs import wait_until

pytestmark = pytest.mark.etcd

SEED_POD = """apiVersion: v1
kind: Pod
metadata:
  name : myapp-pod
  labels : # 넣고 싶은 만큼 넣으면 됨
    app : myapp
    type : front-end
spec:
  containers: # List
    - name: nginx-container
      image: nginx
"""
SEED_TWO_CONTAINERS = """apiVersion: v1
kind: Pod
metadata:
  name: my-pod1
  labels:
    app: my-pod
    type: frontend
spec:
  containers:
    - name: my-nginx-container
      image: nginx
    - name: my-busybox-container
      image: busybox:latest
"""
SEED_RC = """apiVersion: v1
kind: ReplicationController
metadata:
  name: myapp-rc
  labels:
    app: myapp
    type: front-end
spec:
  template: # 추가 요소
    containers:
      - name: rc-container
        image: nginx:latest
  replicas: 3
"""
SEED_RS = """apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myapp-rc
  labels:
    app: myapp
    type: front-end
spec:
  template: # 추가 요소
    containers:
      - name: rc-container
        image: nginx:latest
  replicas: 3
  selector:
    matchLabels:
      type: front-end
"""
SEED_DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd-frontend
  labels:
    apps: my-frontend-deployment
spec:
  selector:
    matchLabels:
      apps: my-httpd
  replicas: 3
  template:
    metadata:
      labels:
        apps: my-httpd
    spec:
      containers:
        - name: httpd-frontend-container
          image: httpd:2.4-alpine
"""
SEED_NODEPORT = """apiVersion: v1
kind: Service
metadata:
  name: myapp-service
  label: myapp-nodeport
spec: # type and port
  type: NodePort
  ports:
    - targetPort: 80
      port: 80
      nodePort: 30008
  selector:
    app: myapp
    type: front-end
"""
SEED_CLUSTERIP = """apiVersion: v1
kind: Service
metadata:
  name: back-end
spec:
  type: ClusterIP
  ports:
    - targetPort: 80
      port: 80
  selector:
    app: myapp
    type: back-end
"""
SEED_LB = """apiVersion: v1
type: service
metadata:
  name: myapp-service
spec:
  type: LoadBalancer
  ports:
    - targetPort: 80
      port: 80
      nodePort: 30008
"""
SEED_NS_POD = """apiVersion: v1
kind: Pod
metadata:
  name: my-app-pod
  namepsace: dev
  labels:
    app: myapp
    type: back-end
spec:
  containers:
    - name: backend-container
      image: nginx:latest
      port: 80
"""
SEED_NAMESPACE = """apiVersion: v1
kind: Namespace
metadata:
  name: dev
"""
SEED_QUOTA = """apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute-quota
  namespace: dev
spec:
  hard:
    pods: "10"
    requests.cpu: "4"
    requests.memory: 5Gi
    limits.cpu: "10"
    limits.memory: 10Gi
"""


def test_version_health_metrics(cluster):
    v = cluster.http.get("/version").json()
    assert (v["major"], v["minor"]) == ("1", "32")
    for path in ("/healthz", "/livez", "/readyz"):
        assert cluster.http.get(path).text == "ok"
    assert "apiserver_request_total" in cluster.http.get("/metrics").text
    out = cluster.kubectl("version", check=True).stdout
    assert "Server Version: v1.32" in out


def test_system_namespaces_exist(cluster):
    out = cluster.kubectl("get", "ns", check=True).stdout
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"\n{ns} " in out and "Active" in out


def test_create_get_describe_seed_pod(cluster):
    f = cluster.write("pod-definition.yaml", SEED_POD)
    assert cluster.kubectl("create", "-f", f, check=True).stdout.strip() == "pod/myapp-pod created"
    res = cluster.kubectl("create", "-f", f)
    assert res.returncode == 1
    assert 'Error from server (AlreadyExists): error when creating' in res.stderr and 'pods "myapp-pod" already exists' in res.stderr
    out = cluster.kubectl("get", "pods", check=True).stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:4] == ["myapp-pod", "0/1", "Pending", "0"]
    wide = cluster.kubectl("get", "pods", "-o", "wide", check=True).stdout.splitlines()[0]
    assert "NOMINATED NODE" in wide and "READINESS GATES" in wide
    pod = yaml.safe_load(cluster.kubectl("get", "pod", "myapp-pod", "-o", "yaml", check=True).stdout)
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30 and spec["serviceAccountName"] == "default"
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
    assert {t["key"] for t in spec["tolerations"]} == {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
    assert all(t["tolerationSeconds"] == 300 for t in spec["tolerations"])
    assert pod["status"]["phase"] == "Pending" and pod["metadata"]["uid"]
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "myapp-pod.1"}, "type": "Normal",
             "involvedObject": {"kind": "Pod", "name": "myapp-pod", "namespace": "default", "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
             "reason": "Scheduled", "message": "Successfully assigned default/myapp-pod to node-1",
             "source": {"component": "default-scheduler"}, "count": 1,
             "firstTimestamp": pod["metadata"]["creationTimestamp"], "lastTimestamp": pod["metadata"]["creationTimestamp"]}
    assert cluster.http.post("/api/v1/namespaces/default/events", json=event).status_code == 201
    desc = cluster.kubectl("describe", "pod", "myapp-pod", check=True).stdout
    assert "Name:             myapp-pod" in desc and "app=myapp" in desc
    assert "Normal  Scheduled" in desc and "default-scheduler  Successfully assigned default/myapp-pod to node-1" in desc
    assert "pod/myapp-pod" in cluster.kubectl("get", "events", check=True).stdout
    assert cluster.kubectl("get", "pods", "-l", "app=myapp,type!=back-end", "-o", "name", check=True).stdout.strip() == "pod/myapp-pod"
    assert cluster.kubectl("get", "pods", "-l", "type in (back-end)", "-o", "name").stdout.strip() == ""
    assert cluster.kubectl("get", "pods", "-A", check=True).stdout.splitlines()[1].split()[0] == "default"
    name = cluster.kubectl("get", "pod", "myapp-pod", "-o", "jsonpath={.metadata.labels.type}", check=True).stdout
    assert name == "front-end"


def test_two_container_pod_and_apply_cycle(cluster):
    f = cluster.write("two.yaml", SEED_TWO_CONTAINERS)
    assert cluster.kubectl("apply", "-f", f, check=True).stdout.strip() == "pod/my-pod1 created"
    assert cluster.kubectl("apply", "-f", f, check=True).stdout.strip() == "pod/my-pod1 unchanged"
    cluster.write("two.yaml", SEED_TWO_CONTAINERS.replace("type: frontend", "type: backend"))
    assert cluster.kubectl("apply", "-f", f, check=True).stdout.strip() == "pod/my-pod1 configured"
    labels = json.loads(cluster.kubectl("get", "pod", "my-pod1", "-o", "json", check=True).stdout)["metadata"]["labels"]
    assert labels == {"app": "my-pod", "type": "backend"}
    out = cluster.kubectl("get", "pod", "my-pod1", check=True).stdout
    assert "0/2" in out


def test_seed_typos_rejected_like_a_real_cluster(cluster):
    res = cluster.kubectl("create", "-f", cluster.write("rc.yaml", SEED_RC))
    assert res.returncode == 1
    assert ('Error from server (BadRequest): error when creating "%s": ReplicationController in version "v1" cannot be '
            'handled as a ReplicationController: strict decoding error: unknown field "spec.template.containers"'
            % (cluster.base / "rc.yaml")) in res.stderr
    res = cluster.kubectl("create", "-f", cluster.write("rs.yaml", SEED_RS))
    assert 'unknown field "spec.template.containers"' in res.stderr and res.returncode == 1
    res = cluster.kubectl("create", "-f", cluster.write("nodeport.yaml", SEED_NODEPORT))
    assert 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "metadata.label"' in res.stderr
    res = cluster.kubectl("apply", "-f", cluster.write("nspod.yaml", SEED_NS_POD))
    assert ('strict decoding error: unknown field "metadata.namepsace", unknown field "spec.containers[0].port"') in res.stderr
    res = cluster.kubectl("create", "-f", cluster.write("lb.yaml", SEED_LB))
    assert res.returncode == 1 and "kind not set" in res.stderr  # no kind: kubectl itself refuses the file
    # without server-side strictness, the typo'd RC is still invalid: its template has no containers
    res = cluster.kubectl("create", "-f", str(cluster.base / "rc.yaml"), "--validate=false")
    assert 'The ReplicationController "myapp-rc" is invalid' in res.stderr
    assert "spec.template.spec.containers: Required value" in res.stderr and "spec.selector: Required value" in res.stderr
    # the NodePort service minus its typo is accepted with the requested nodePort
    res = cluster.kubectl("create", "-f", str(cluster.base / "nodeport.yaml"), "--validate=false", check=True)
    assert res.stdout.strip() == "service/myapp-service created"
    assert "80:30008/TCP" in cluster.kubectl("get", "svc", "myapp-service", check=True).stdout


def test_deployment_defaults_scale_set_image_rollout(cluster):
    f = cluster.write("deploy.yaml", SEED_DEPLOY)
    assert cluster.kubectl("create", "-f", f, check=True).stdout.strip() == "deployment.apps/httpd-frontend created"
    d = json.loads(cluster.kubectl("get", "deploy", "httpd-frontend", "-o", "json", check=True).stdout)
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
    assert d["metadata"]["generation"] == 1
    assert cluster.kubectl("scale", "deployment", "httpd-frontend", "--replicas=5", check=True).stdout.strip() == "deployment.apps/httpd-frontend scaled"
    res = cluster.kubectl("set", "image", "deployment/httpd-frontend", "httpd-frontend-container=httpd:2.4", check=True)
    assert res.stdout.strip() == "deployment.apps/httpd-frontend image updated"
    d = json.loads(cluster.kubectl("get", "deploy", "httpd-frontend", "-o", "json", check=True).stdout)
    assert d["spec"]["replicas"] == 5 and d["metadata"]["generation"] == 3
    assert [c["image"] for c in d["spec"]["template"]["spec"]["containers"]] == ["httpd:2.4"]
    out = cluster.kubectl("get", "deploy,rs", check=True).stdout
    assert "deployment.apps/httpd-frontend   0/5" in out
    res = cluster.kubectl("rollout", "status", "deployment", "httpd-frontend", "--watch=false", check=True)
    assert "Waiting for deployment spec update to be observed" in res.stdout
    out = cluster.kubectl("get", "all", check=True).stdout
    assert "deployment.apps/httpd-frontend" in out and "service/kubernetes" in out


def test_apply_removes_container_and_service_port(cluster):
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "two"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "two"}},
                  "template": {"metadata": {"labels": {"app": "two"}},
                               "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]}}}}
    f = cluster.write("d2.yaml", yaml.safe_dump(d))
    cluster.kubectl("apply", "-f", f, check=True)
    d["spec"]["template"]["spec"]["containers"] = [{"name": "a", "image": "nginx:1.25"}]
    cluster.write("d2.yaml", yaml.safe_dump(d))
    assert cluster.kubectl("apply", "-f", f, check=True).stdout.strip() == "deployment.apps/two configured"
    got = json.loads(cluster.kubectl("get", "deploy", "two", "-o", "json", check=True).stdout)
    assert [(c["name"], c["image"]) for c in got["spec"]["template"]["spec"]["containers"]] == [("a", "nginx:1.25")]
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ports"},
           "spec": {"selector": {"app": "two"}, "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 8080}]}}
    f = cluster.write("ports.yaml", yaml.safe_dump(svc))
    cluster.kubectl("apply", "-f", f, check=True)
    svc["spec"]["ports"] = [{"name": "b", "port": 8080}]
    cluster.write("ports.yaml", yaml.safe_dump(svc))
    cluster.kubectl("apply", "-f", f, check=True)
    got = json.loads(cluster.kubectl("get", "svc", "ports", "-o", "json", check=True).stdout)
    assert [p["port"] for p in got["spec"]["ports"]] == [8080]
    assert got["spec"]["ports"][0]["targetPort"] == 8080


def test_label_annotate_and_three_patch_types(cluster):
    cluster.kubectl("run", "patchme", "--image=nginx:1.25", check=True)
    assert cluster.kubectl("label", "pod", "patchme", "tier=web", check=True).stdout.strip() == "pod/patchme labeled"
    assert cluster.kubectl("annotate", "pod", "patchme", "note=hi", check=True).stdout.strip() == "pod/patchme annotated"
    cluster.kubectl("patch", "pod", "patchme", "-p", '{"metadata":{"labels":{"smp":"1"}}}', check=True)
    cluster.kubectl("patch", "pod", "patchme", "--type=merge", "-p", '{"metadata":{"labels":{"merge":"1","tier":null}}}', check=True)
    cluster.kubectl("patch", "pod", "patchme", "--type=json", "-p", '[{"op":"add","path":"/metadata/labels/json","value":"1"}]', check=True)
    cluster.kubectl("patch", "pod", "patchme", "-p",
                    '{"spec":{"$setElementOrder/containers":[{"name":"patchme"}],"containers":[{"name":"patchme","image":"nginx:1.26"}]}}', check=True)
    pod = json.loads(cluster.kubectl("get", "pod", "patchme", "-o", "json", check=True).stdout)
    assert pod["metadata"]["labels"] == {"run": "patchme", "smp": "1", "merge": "1", "json": "1"}
    assert pod["metadata"]["annotations"] == {"note": "hi"}
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.26"
    res = cluster.kubectl("patch", "pod", "patchme", "-p", '{"spec":{"restartPolicy":"Never"}}')
    assert res.returncode == 1 and "pod updates may not change fields other than" in res.stderr


def test_typed_create_commands_use_protobuf(cluster):
    assert cluster.kubectl("create", "namespace", "proto", check=True).stdout.strip() == "namespace/proto created"
    ns = json.loads(cluster.kubectl("get", "ns", "proto", "-o", "json", check=True).stdout)
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "proto"
    cluster.kubectl("-n", "proto", "create", "configmap", "cfg", "--from-literal=a=b", check=True)
    cluster.kubectl("-n", "proto", "create", "secret", "generic", "sec", "--from-literal=x=y", check=True)
    cluster.kubectl("-n", "proto", "create", "serviceaccount", "robot", check=True)
    cluster.kubectl("-n", "proto", "create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80", check=True)
    cluster.kubectl("-n", "proto", "create", "job", "once", "--image=busybox", "--", "echo", "hi", check=True)
    cm = json.loads(cluster.kubectl("-n", "proto", "get", "cm", "cfg", "-o", "json", check=True).stdout)
    assert cm["data"] == {"a": "b"}
    sec = json.loads(cluster.kubectl("-n", "proto", "get", "secret", "sec", "-o", "json", check=True).stdout)
    assert sec["data"] == {"x": "eQ=="} and sec["type"] == "Opaque"
    dep = json.loads(cluster.kubectl("-n", "proto", "get", "deploy", "web", "-o", "json", check=True).stdout)
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["spec"]["replicas"] == 2 and c["image"] == "nginx:1.25" and c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    job = json.loads(cluster.kubectl("-n", "proto", "get", "job", "once", "-o", "json", check=True).stdout)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    for cmd in (["create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30123"],
                ["create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "hi"],
                ["create", "quota", "q", "--hard=pods=5,requests.cpu=1"],
                ["create", "role", "r", "--verb=get", "--resource=pods"],
                ["create", "rolebinding", "rb", "--role=r", "--user=bob", "--serviceaccount=proto:robot"],
                ["create", "clusterrole", "proto-cr", "--verb=get", "--resource=nodes"],
                ["create", "clusterrolebinding", "proto-crb", "--clusterrole=proto-cr", "--group=g"]):
        cluster.kubectl("-n", "proto", *cmd, check=True)
    svc = json.loads(cluster.kubectl("-n", "proto", "get", "svc", "np", "-o", "json", check=True).stdout)
    assert svc["spec"]["ports"][0] == {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30123}
    cj = json.loads(cluster.kubectl("-n", "proto", "get", "cronjob", "cj", "-o", "json", check=True).stdout)
    assert cj["spec"]["schedule"] == "*/5 * * * *" and cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    rb = json.loads(cluster.kubectl("-n", "proto", "get", "rolebinding", "rb", "-o", "json", check=True).stdout)
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    assert [s["kind"] for s in rb["subjects"]] == ["User", "ServiceAccount"]
    assert "pods: 0/5" in cluster.kubectl("-n", "proto", "get", "quota", "q", check=True).stdout


def test_namespaces_run_and_context(cluster):
    res = cluster.kubectl("run", "redis", "--image=redis", "--namespace=finance")
    assert res.returncode == 1 and 'Error from server (NotFound): namespaces "finance" not found' in res.stderr
    cluster.kubectl("create", "-f", cluster.write("ns.yaml", SEED_NAMESPACE), check=True)
    assert cluster.kubectl("create", "-f", str(cluster.base / "pod-definition.yaml"), "--namespace=dev", check=True).returncode == 0
    cluster.kubectl("run", "redis", "--image=redis", "--namespace=dev", check=True)
    assert "redis" in cluster.kubectl("get", "pods", "-n=dev", check=True).stdout
    cluster.kubectl("create", "-f", cluster.write("cip.yaml", SEED_CLUSTERIP), "--namespace=dev", check=True)
    out = cluster.kubectl("get", "svc", "-n=dev", check=True).stdout
    assert "back-end" in out and "ClusterIP" in out and "80/TCP" in out
    cluster.kubectl("config", "set-context", "k", "--namespace=dev", check=True)
    try:
        assert "redis" in cluster.kubectl("get", "pods", check=True).stdout
    finally:
        cluster.kubectl("config", "set-context", "k", "--namespace=default", check=True)
    res = cluster.kubectl("get", "pods", "-n", "nowhere")
    assert res.returncode == 0 and "No resources found in nowhere namespace." in res.stderr


def test_quota_in_dev(cluster):
    if cluster.kubectl("get", "ns", "dev").returncode != 0:
        cluster.kubectl("create", "namespace", "dev", check=True)
    cluster.kubectl("create", "-f", cluster.write("quota.yaml", SEED_QUOTA), check=True)
    pods_before = len(cluster.kubectl("get", "pods", "-n", "dev", "-o", "name", check=True).stdout.split())
    q = json.loads(cluster.kubectl("get", "quota", "compute-quota", "-n", "dev", "-o", "json", check=True).stdout)
    assert q["status"]["used"]["pods"] == str(pods_before)  # a new quota starts from the namespace's usage
    assert q["status"]["hard"]["requests.memory"] == "5Gi"
    res = cluster.kubectl("run", "nolimits", "--image=nginx", "-n", "dev")
    assert res.returncode == 1
    assert ('pods "nolimits" is forbidden: failed quota: compute-quota: must specify limits.cpu for: nolimits; '
            'limits.memory for: nolimits; requests.cpu for: nolimits; requests.memory for: nolimits') in res.stderr
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"},
           "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "3", "memory": "1Gi"}}}]}}
    cluster.kubectl("apply", "-n", "dev", "-f", cluster.write("big.yaml", json.dumps(pod)), check=True)
    pod["metadata"]["name"] = "big2"
    res = cluster.kubectl("apply", "-n", "dev", "-f", cluster.write("big2.yaml", json.dumps(pod)))
    assert res.returncode == 1
    assert ('pods "big2" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=3, '
            'used: requests.cpu=3, limited: requests.cpu=4') in res.stderr
    q = json.loads(cluster.kubectl("get", "quota", "compute-quota", "-n", "dev", "-o", "json", check=True).stdout)
    pods_in_dev = len(cluster.kubectl("get", "pods", "-n", "dev", "-o", "name", check=True).stdout.split())
    assert q["status"]["used"]["limits.cpu"] == "3" and q["status"]["used"]["pods"] == str(pods_in_dev)
    assert q["status"]["used"]["requests.memory"] == "1Gi"
    cluster.kubectl("delete", "pod", "big", "-n", "dev", check=True)
    q = json.loads(cluster.kubectl("get", "quota", "compute-quota", "-n", "dev", "-o", "json", check=True).stdout)
    assert q["status"]["used"]["limits.cpu"] == "0"
    cluster.kubectl("apply", "-n", "dev", "-f", str(cluster.base / "big2.yaml"), check=True)


def test_get_watch_prints_new_rows(cluster):
    cluster.kubectl("run", "first", "--image=nginx", "-n", "kube-public", check=True)
    proc = cluster.kubectl_popen("get", "pods", "-w", "-n", "kube-public")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: "first" in "".join(lines), timeout=30, what="kubectl get -w to list")
        assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        cluster.kubectl("run", "watched", "--image=nginx", "-n", "kube-public", check=True)
        wait_until(lambda: "watched" in "".join(lines), timeout=30, what="the new pod in the watch output")
        row = next(line for line in lines if "watched" in line)
        assert "Pending" in row and "0/1" in row
        cluster.kubectl("label", "pod", "watched", "-n", "kube-public", "x=y", check=True)
        wait_until(lambda: sum("watched" in line for line in lines) >= 2, timeout=30, what="the MODIFIED row")
    finally:
        proc.kill()
        proc.wait()


def test_delete_variants(cluster):
    cluster.kubectl("create", "namespace", "del", check=True)
    for n in ("a", "b", "c"):
        cluster.kubectl("run", n, "--image=nginx", "-n", "del", check=True)
    assert cluster.kubectl("delete", "pod", "a", "-n", "del", check=True).stdout.strip() == 'pod "a" deleted'
    res = cluster.kubectl("delete", "pod", "a", "-n", "del")
    assert res.returncode == 1 and 'Error from server (NotFound): pods "a" not found' in res.stderr
    out = cluster.kubectl("delete", "pods", "--all", "-n", "del", check=True).stdout
    assert 'pod "b" deleted' in out and 'pod "c" deleted' in out
    f = cluster.write("delme.yaml", SEED_POD.replace("myapp-pod", "delme"))
    cluster.kubectl("create", "-f", f, "-n", "del", check=True)
    assert cluster.kubectl("delete", "-f", f, "-n", "del", check=True).stdout.strip() == 'pod "delme" deleted'
    res = cluster.kubectl("delete", "ns", "default")
    assert res.returncode == 1 and 'namespaces "default" is forbidden: this namespace may not be deleted' in res.stderr


def test_discovery_api_resources_explain(cluster):
    out = cluster.kubectl("api-resources", check=True).stdout
    for line in ("pods ", "deployments ", "replicationcontrollers ", "endpointslices ", "clusterrolebindings "):
        assert line in out
    wide = cluster.kubectl("api-resources", "-o", "wide", check=True).stdout
    pods_row = next(line for line in wide.splitlines() if line.startswith("pods "))
    assert pods_row.split()[-1] == "all"
    exp = cluster.kubectl("explain", "pod.spec.containers.image", check=True).stdout
    assert "KIND:       Pod" in exp and "image" in exp
    assert cluster.kubectl("auth", "can-i", "create", "pods", check=True).stdout.strip() == "yes"
    assert "system:anonymous" in cluster.kubectl("auth", "whoami", check=True).stdout
    assert cluster.http.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").status_code == 405
    r = cluster.http.get("/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    assert r.headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    cats = {r["resource"] for g in r.json()["items"] for v in g["versions"] for r in v["resources"] if "all" in r.get("categories", [])}
    assert cats == {"deployments", "replicasets", "daemonsets", "statefulsets", "jobs", "cronjobs"}


def test_rollout_status_follows_status_updates(cluster):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "roll"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "roll"}},
                    "template": {"metadata": {"labels": {"app": "roll"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    cluster.kubectl("apply", "-f", cluster.write("roll.yaml", json.dumps(dep)), check=True)
    proc = cluster.kubectl_popen("rollout", "status", "deployment/roll", "--timeout=60s")
    url = "/apis/apps/v1/namespaces/default/deployments/roll/status"
    # what the deployment controller would report, in two steps
    for status in ({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 0, "availableReplicas": 0},
                   {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}):
        r = cluster.http.patch(url, content=json.dumps({"status": status}), headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert 'deployment "roll" successfully rolled out' in out


def test_delete_waits_for_graceful_pod_termination(cluster):
    cluster.kubectl("run", "slowstop", "--image=nginx", check=True)
    b = cluster.http.post("/api/v1/namespaces/default/pods/slowstop/binding", json={"metadata": {"name": "slowstop"}, "target": {"kind": "Node", "name": "node-x"}})
    assert b.status_code == 201
    proc = cluster.kubectl_popen("delete", "pod", "slowstop")
    wait_until(lambda: cluster.http.get("/api/v1/namespaces/default/pods/slowstop").json()["metadata"].get("deletionTimestamp"),
               timeout=30, what="the pod to be marked for deletion")
    assert proc.poll() is None  # kubectl is still waiting for the kubelet
    # the kubelet has stopped the containers: it removes the pod with grace 0
    r = cluster.http.request("DELETE", "/api/v1/namespaces/default/pods/slowstop", json={"gracePeriodSeconds": 0})
    assert r.status_code == 200
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and 'pod "slowstop" deleted' in out
