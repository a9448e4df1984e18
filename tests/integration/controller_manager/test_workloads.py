"""ReplicaSets, ReplicationControllers and Deployments with real processes and the real kubectl."""
from __future__ import annotations

import pytest

from tests.support.procs import wait_until

from .conftest import CMCluster

pytestmark = pytest.mark.etcd

RS_YAML = """
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myapp-replicaset
  labels:
    app: myapp
    type: front-end
spec:
  replicas: 3
  selector:
    matchLabels:
      type: front-end
  template:
    metadata:
      name: myapp-pod
      labels:
        app: myapp
        type: front-end
    spec:
      containers:
      - name: nginx-container
        image: nginx
"""

RC_YAML = """
apiVersion: v1
kind: ReplicationController
metadata:
  name: myapp-rc
  labels:
    app: myapp
    type: rc-front-end
spec:
  replicas: 3
  template:
    metadata:
      name: myapp-pod
      labels:
        app: myapp
        type: rc-front-end
    spec:
      containers:
      - name: nginx-container
        image: nginx
"""


def rs_status(kc: CMCluster, name: str, kind: str = "replicasets", group: str = "/apis/apps/v1") -> dict:
    return kc.get(f"{group}/namespaces/default/{kind}/{name}").get("status") or {}


def test_replicaset_creates_replaces_scales_and_reports_status(kc: CMCluster):
    kc.apply_yaml(RS_YAML)
    pods = kc.running("type=front-end", 3)
    for p in pods:
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["name"] == "myapp-replicaset" and ref["controller"] is True
        assert p["metadata"]["name"].startswith("myapp-replicaset-")
    wait_until(lambda: rs_status(kc, "myapp-replicaset").get("readyReplicas") == 3, 30, what="readyReplicas=3")
    st = rs_status(kc, "myapp-replicaset")
    assert st["replicas"] == 3 and st["availableReplicas"] == 3 and st["fullyLabeledReplicas"] == 3
    assert st["observedGeneration"] >= 1
    out = kc.kubectl("get", "rs", "myapp-replicaset", check=True).stdout
    assert "myapp-replicaset   3         3         3" in out, out
    ev = wait_until(lambda: [e for e in kc.events_for("myapp-replicaset") if e["reason"] == "SuccessfulCreate"], 30,
                    what="SuccessfulCreate events")
    assert ev[0]["source"]["component"] == "replicaset-controller"
    assert ev[0]["message"].startswith("Created pod: myapp-replicaset-")

    # deleting a pod brings a replacement
    victim = pods[0]["metadata"]["name"]
    kc.kubectl("delete", "pod", victim, "--wait=false", check=True)
    wait_until(lambda: victim not in {p["metadata"]["name"] for p in kc.live_pods("type=front-end")} and
               len(kc.live_pods("type=front-end")) == 3, 30, what="a replacement pod")
    kc.running("type=front-end", 3)

    kc.kubectl("scale", "rs", "myapp-replicaset", "--replicas=5", check=True)
    kc.running("type=front-end", 5)
    kc.kubectl("scale", "rs", "myapp-replicaset", "--replicas=2", check=True)
    kc.running("type=front-end", 2)
    wait_until(lambda: rs_status(kc, "myapp-replicaset").get("replicas") == 2, 30, what="status.replicas=2")


def test_burst_scale_up_never_overshoots(kc: CMCluster):
    kc.apply_yaml(RS_YAML.replace("myapp-replicaset", "burst").replace("front-end", "burst").replace("replicas: 3", "replicas: 1"))
    kc.running("type=burst", 1)
    kc.kubectl("scale", "rs", "burst", "--replicas=25", check=True)
    most = 0

    def all_up() -> bool:
        nonlocal most
        pods = kc.pods("type=burst")
        most = max(most, len(pods))
        assert len(pods) <= 25, f"{len(pods)} pods for 25 replicas"
        return len(pods) == 25 and all(p["status"].get("phase") == "Running" for p in pods)
    wait_until(all_up, 90, interval=0.05, what="25 Running pods")
    assert most == 25
    kc.kubectl("delete", "rs", "burst", check=True)


def test_replicaset_adopts_orphans_and_releases_relabeled_pods(kc: CMCluster):
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan-1", "labels": {"tier": "adopt"}},
              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    kc.apply(orphan)
    kc.apply_yaml(RS_YAML.replace("myapp-replicaset", "adopter").replace("front-end", "adopt").replace("type:", "tier:"))
    pods = kc.running("tier=adopt", 3)
    assert "orphan-1" in {p["metadata"]["name"] for p in pods}  # adopted, so only two were created
    o = kc.pod("orphan-1")
    assert o["metadata"]["ownerReferences"][0]["name"] == "adopter"
    kc.kubectl("label", "pod", "orphan-1", "tier=gone", "--overwrite", check=True)
    wait_until(lambda: not kc.pod("orphan-1")["metadata"].get("ownerReferences"), 30, what="orphan-1 released")
    kc.running("tier=adopt", 3)  # and replaced


def test_replicationcontroller_from_yaml(kc: CMCluster):
    kc.apply_yaml(RC_YAML)
    pods = kc.running("type=rc-front-end", 3)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController" for p in pods)
    wait_until(lambda: rs_status(kc, "myapp-rc", "replicationcontrollers", "/api/v1").get("readyReplicas") == 3, 30,
               what="rc readyReplicas")
    kc.kubectl("scale", "rc", "myapp-rc", "--replicas=1", check=True)
    kc.running("type=rc-front-end", 1)


DEPLOY_YAML = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: myapp-deployment
  labels:
    app: myapp
    type: front-end
spec:
  replicas: 4
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 1
  selector:
    matchLabels:
      type: web
  template:
    metadata:
      name: myapp-pod
      labels:
        app: myapp
        type: web
    spec:
      containers:
      - name: nginx
        image: nginx
"""


def images(kc: CMCluster, selector: str) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in kc.live_pods(selector)}


def owned_rs(kc: CMCluster, name: str) -> list[dict]:
    d = kc.get(f"/apis/apps/v1/namespaces/default/deployments/{name}")
    items = kc.get("/apis/apps/v1/namespaces/default/replicasets")["items"]
    return [rs for rs in items if any(r["uid"] == d["metadata"]["uid"] for r in rs["metadata"].get("ownerReferences") or [])]


def test_deployment_rolls_out_updates_and_undoes(kc: CMCluster):
    kc.apply_yaml(DEPLOY_YAML)
    pods = kc.running("type=web", 4)
    h = {p["metadata"]["labels"]["pod-template-hash"] for p in pods}
    assert len(h) == 1
    rss = owned_rs(kc, "myapp-deployment")
    assert [rs["metadata"]["name"] for rs in rss] == [f"myapp-deployment-{h.pop()}"]
    out = kc.kubectl("rollout", "status", "deployment/myapp-deployment", "--timeout=60s", check=True).stdout
    assert 'deployment "myapp-deployment" successfully rolled out' in out
    d = kc.get("/apis/apps/v1/namespaces/default/deployments/myapp-deployment")
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert conds["Available"]["status"] == "True" and conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    ev = wait_until(lambda: [e for e in kc.events_for("myapp-deployment") if e["reason"] == "ScalingReplicaSet"], 30,
                    what="ScalingReplicaSet event")
    assert ev[0]["source"]["component"] == "deployment-controller"
    assert ev[0]["message"] == f"Scaled up replica set {rss[0]['metadata']['name']} from 0 to 4"

    # Watch the rollout from a second thread-free angle: sample pods while it runs and check the floor.
    kc.kubectl("set", "image", "deployment/myapp-deployment", "nginx=nginx:1.25", check=True)
    floor = 4 - 1
    worst = 4

    def done() -> bool:
        nonlocal worst
        pods = kc.live_pods("type=web")
        ready = sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in p["status"].get("conditions", [])))
        worst = min(worst, ready)
        assert len(pods) <= 4 + 1, f"{len(pods)} pods exceed replicas+maxSurge"
        return images(kc, "type=web") == {"nginx:1.25"} and ready == 4 and len(pods) == 4
    wait_until(done, 90, interval=0.1, what="rolled out to nginx:1.25")
    assert worst >= floor, f"availability dropped to {worst} (< {floor})"
    out = kc.kubectl("rollout", "status", "deployment/myapp-deployment", "--timeout=60s", check=True).stdout
    assert "successfully rolled out" in out
    assert len(owned_rs(kc, "myapp-deployment")) == 2
    hist = kc.kubectl("rollout", "history", "deployment/myapp-deployment", check=True).stdout
    assert "1 " in hist and "2 " in hist, hist

    kc.kubectl("rollout", "undo", "deployment/myapp-deployment", check=True)
    wait_until(lambda: images(kc, "type=web") == {"nginx"} and len(kc.live_pods("type=web")) == 4, 90,
               what="undo back to nginx")
    kc.kubectl("rollout", "status", "deployment/myapp-deployment", "--timeout=60s", check=True)
    d = kc.get("/apis/apps/v1/namespaces/default/deployments/myapp-deployment")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"

    # scale
    kc.kubectl("scale", "deployment/myapp-deployment", "--replicas=2", check=True)
    kc.running("type=web", 2)
    kc.kubectl("rollout", "status", "deployment/myapp-deployment", "--timeout=60s", check=True)

    # pause: a template change makes no new ReplicaSet until resumed; restart rolls new pods
    kc.kubectl("rollout", "pause", "deployment/myapp-deployment", check=True)
    kc.kubectl("set", "image", "deployment/myapp-deployment", "nginx=nginx:1.25", check=True)
    def paused() -> bool:
        d = kc.get("/apis/apps/v1/namespaces/default/deployments/myapp-deployment")
        return any(c["reason"] == "DeploymentPaused" for c in d["status"].get("conditions", []))
    wait_until(paused, 30, what="DeploymentPaused")
    assert images(kc, "type=web") == {"nginx"}
    kc.kubectl("rollout", "resume", "deployment/myapp-deployment", check=True)
    kc.kubectl("rollout", "status", "deployment/myapp-deployment", "--timeout=90s", check=True)
    wait_until(lambda: images(kc, "type=web") == {"nginx:1.25"}, 30, what="resumed rollout")
    before = {p["metadata"]["name"] for p in kc.live_pods("type=web")}
    kc.kubectl("rollout", "restart", "deployment/myapp-deployment", check=True)
    kc.kubectl("rollout", "status", "deployment/myapp-deployment", "--timeout=90s", check=True)
    wait_until(lambda: not before & {p["metadata"]["name"] for p in kc.live_pods("type=web")} and
               len(kc.live_pods("type=web")) == 2, 60, what="restart replaced every pod")


def test_recreate_deployment_replaces_all_pods(kc: CMCluster):
    kc.apply_yaml(DEPLOY_YAML.replace("myapp-deployment", "recreate").replace("type: web", "type: rec")
                  .replace("""    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 1""", "    type: Recreate").replace("replicas: 4", "replicas: 2"))
    kc.running("type=rec", 2)
    kc.kubectl("set", "image", "deployment/recreate", "nginx=nginx:1.25", check=True)

    def recreated() -> bool:
        pods = kc.pods("type=rec")  # terminating ones included: Recreate waits for them to be gone
        assert len({p["spec"]["containers"][0]["image"] for p in pods}) <= 1, "old and new pods at once"
        return {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.25"} and len(pods) == 2
    wait_until(recreated, 90, interval=0.1, what="recreated with nginx:1.25")
    kc.kubectl("rollout", "status", "deployment/recreate", "--timeout=90s", check=True)


def test_deployment_that_cannot_progress_exceeds_its_deadline(kc: CMCluster):
    kc.apply_yaml(DEPLOY_YAML.replace("myapp-deployment", "stuck").replace("type: web", "type: stuck")
                  .replace("replicas: 4", "replicas: 1\n  progressDeadlineSeconds: 3").replace("image: nginx", "image: no-such-image"))
    r = kc.kubectl("rollout", "status", "deployment/stuck", "--timeout=60s")
    assert r.returncode != 0
    assert 'deployment "stuck" exceeded its progress deadline' in r.stderr, r.stderr
    d = kc.get("/apis/apps/v1/namespaces/default/deployments/stuck")
    prog = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert prog["status"] == "False" and prog["reason"] == "ProgressDeadlineExceeded"
    kc.kubectl("delete", "deployment", "stuck", check=True)


def test_standby_takes_over_when_the_leader_stops_and_metrics_are_served(kc: CMCluster):
    import httpx

    leader = kc.cm
    def synced_metrics() -> str | None:
        b = httpx.get(leader.health_url + "/metrics", timeout=5).text  # type: ignore[attr-defined]
        return b if 'controller_manager_syncs_total{controller="nodelifecycle",result="success"}' in b else None
    body = wait_until(synced_metrics, 30, what="sync metrics")
    assert 'leader_election_master_status{name="kube-controller-manager"} 1.0' in body
    standby = kc.start_controller_manager(name="controller-manager-standby")
    assert httpx.get(standby.health_url + "/readyz", timeout=5).status_code == 200  # type: ignore[attr-defined]
    body = httpx.get(standby.health_url + "/metrics", timeout=5).text  # type: ignore[attr-defined]
    assert 'leader_election_master_status{name="kube-controller-manager"} 1.0' not in body

    leader.stop(timeout=15)  # SIGTERM: controllers stop, the lease is released
    assert leader.popen.returncode == 0, leader.log_tail()
    line = wait_until(lambda: next((ln for ln in standby.log_path.read_text().splitlines() if "acquired lease" in ln), None),
                      30, what="standby acquired the lease")
    identity = line.split("identity=")[1].split()[0]
    lease = kc.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager")
    assert lease["spec"]["holderIdentity"] == identity, (lease, standby.log_tail(), leader.log_tail())

    kc.apply_yaml(RS_YAML.replace("myapp-replicaset", "after-failover").replace("front-end", "failover"))
    kc.running("type=failover", 3, timeout=60)  # only the new leader can have made these
