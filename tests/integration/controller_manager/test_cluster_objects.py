"""Endpoints and EndpointSlices, namespaces, service accounts and the garbage collector with
real processes and the real kubectl."""
from __future__ import annotations

import pytest
from kubeling.shared.quantity import parse as parse_quantity

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


def test_selectorless_service_endpoints_are_mirrored_to_slices(kc: CMCluster):
    kc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"},
              "spec": {"ports": [{"name": "db", "port": 5432}]}})
    kc.apply({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
              "subsets": [{"addresses": [{"ip": "127.0.0.9"}], "notReadyAddresses": [{"ip": "127.0.0.10"}],
                           "ports": [{"name": "db", "port": 5432}]}]})

    def mirrored():
        return [s for s in slices(kc, "external") if s["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by")
                == "endpointslicemirroring-controller.k8s.io"]
    sl = wait_until(mirrored, 30, what="mirrored EndpointSlice")[0]
    assert {e["addresses"][0]: e["conditions"]["ready"] for e in sl["endpoints"]} == {"127.0.0.9": True, "127.0.0.10": False}
    assert sl["ports"] == [{"name": "db", "port": 5432, "protocol": "TCP"}]
    assert kc.get("/api/v1/namespaces/default/endpoints/external")["subsets"][0]["addresses"][0]["ip"] == "127.0.0.9"
    kc.kubectl("delete", "endpoints", "external", check=True)
    wait_until(lambda: not mirrored(), 30, what="mirrored slice removed with the Endpoints")
    kc.kubectl("delete", "service", "external", check=True)


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


QUOTA = """
apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute-quota
spec:
  hard:
    pods: "10"
    requests.cpu: "4"
    requests.memory: 5Gi
    limits.cpu: "10"
    limits.memory: 10Gi
"""

QUOTA_RS = """
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: many
spec:
  replicas: 11
  selector:
    matchLabels: {app: many}
  template:
    metadata:
      labels: {app: many}
    spec:
      containers:
      - name: c
        image: nginx
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 200m, memory: 128Mi}
"""


def test_quota_blocks_the_11th_pod_and_used_follows_finished_pods(kc: CMCluster):
    kc.kubectl("create", "namespace", "quota", check=True)
    kc.apply_yaml(QUOTA, ns="quota")
    kc.apply_yaml(QUOTA_RS, ns="quota")
    wait_until(lambda: len(kc.pods("app=many", "quota")) == 10, 60, what="10 pods under the quota")
    # (the apiserver may also answer 409 to creates racing for the quota's ledger; those are retried)
    wait_until(lambda: [e for e in kc.events_for("many", "quota") if e["reason"] == "FailedCreate"
                        and "exceeded quota: compute-quota" in e["message"]], 30, what="FailedCreate for the 11th pod")
    assert len(kc.pods("app=many", "quota")) == 10

    def used():
        return kc.get("/api/v1/namespaces/quota/resourcequotas/compute-quota")["status"]["used"]
    wait_until(lambda: used()["pods"] == "10" and used()["requests.cpu"] == "1", 30, what="used pods=10 cpu=1")
    assert parse_quantity(used()["requests.memory"]) == parse_quantity("640Mi")
    # a pod that finishes stops using quota: the controller (not the admission ledger) notices
    kc.kubectl("scale", "rs", "many", "-n", "quota", "--replicas=0", check=True)
    wait_until(lambda: not kc.pods("app=many", "quota"), 60, what="quota pods gone")
    done = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "once", "namespace": "quota"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 0"],
                                                              "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                                                            "limits": {"cpu": "100m", "memory": "64Mi"}}}]}}
    kc.kubectl("apply", "-f", "-", input=__import__("json").dumps(done), check=True)
    kc.wait_pod("once", lambda p: p["status"].get("phase") == "Succeeded", ns="quota", timeout=60, what="once Succeeded")
    wait_until(lambda: used()["pods"] == "0", 30, what="finished pod no longer counted")


JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: math-add-job
spec:
  completions: 3
  parallelism: 2
  backoffLimit: 2
  template:
    spec:
      containers:
      - name: math-add
        image: busybox
        command: ["sh", "-c", "echo 5"]
      restartPolicy: Never
"""


def test_job_completes_and_a_failing_job_hits_its_backoff_limit(kc: CMCluster):
    kc.apply_yaml(JOB)
    kc.kubectl("wait", "--for=condition=complete", "job/math-add-job", "--timeout=90s", check=True)
    j = kc.get("/apis/batch/v1/namespaces/default/jobs/math-add-job")
    assert j["status"]["succeeded"] == 3 and not j["status"].get("active")
    assert j["status"].get("completionTime")
    pods = kc.pods("job-name=math-add-job")
    assert len(pods) == 3 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    out = kc.kubectl("get", "job", "math-add-job", check=True).stdout
    assert "3/3" in out, out

    kc.apply_yaml(JOB.replace("math-add-job", "failing").replace("echo 5", "exit 3").replace("backoffLimit: 2", "backoffLimit: 0")
                  .replace("completions: 3", "completions: 1").replace("parallelism: 2", "parallelism: 1"))
    kc.kubectl("wait", "--for=condition=failed", "job/failing", "--timeout=90s", check=True)
    j = kc.get("/apis/batch/v1/namespaces/default/jobs/failing")
    failed = next(c for c in j["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"

    # ttlSecondsAfterFinished: the finished Job and (through the garbage collector) its pods go
    kc.apply_yaml(JOB.replace("math-add-job", "short-lived").replace("completions: 3", "completions: 1")
                  .replace("backoffLimit: 2", "backoffLimit: 2\n  ttlSecondsAfterFinished: 2"))
    wait_until(lambda: kc.http.get("/apis/batch/v1/namespaces/default/jobs/short-lived").status_code == 404, 60,
               what="short-lived Job deleted after its TTL")
    wait_until(lambda: not kc.pods("job-name=short-lived"), 30, what="its pods collected")


CRON = """
apiVersion: batch/v1
kind: CronJob
metadata:
  name: every-minute
spec:
  schedule: "* * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: c
            image: busybox
            command: ["sh", "-c", "echo tick"]
          restartPolicy: Never
"""


def test_cronjob_fires(kc: CMCluster):
    kc.apply_yaml(CRON)
    # the next minute boundary is at most 60s away
    jobs = wait_until(lambda: [j for j in kc.get("/apis/batch/v1/namespaces/default/jobs")["items"]
                               if j["metadata"]["name"].startswith("every-minute-")], 75, interval=0.5,
                      what="a Job from the CronJob")
    assert jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    kc.kubectl("wait", "--for=condition=complete", f"job/{jobs[0]['metadata']['name']}", "--timeout=60s", check=True)
    wait_until(lambda: kc.get("/apis/batch/v1/namespaces/default/cronjobs/every-minute")["status"].get("lastSuccessfulTime"),
               30, what="lastSuccessfulTime")
    kc.kubectl("delete", "cronjob", "every-minute", check=True)


def test_cronjob_schedules_validated_at_create_and_impossible_ones_reported_once(kc: CMCluster):
    """`99 * * * *` is refused at create with robfig/cron's message, as upstream; `0 0 30 2 *`
    parses (as upstream) but never fires: the controller reports it as an InvalidSchedule event
    and does not retry it in a loop."""
    bad = kc.kubectl("create", "cronjob", "bad-minute", "--image=busybox", "--schedule=99 * * * *")
    assert bad.returncode != 0
    assert ('CronJob.batch "bad-minute" is invalid: spec.schedule: Invalid value: "99 * * * *": '
            "end of range (99) above maximum (59): 99") in bad.stderr
    tz = kc.kubectl("create", "cronjob", "tz-prefix", "--image=busybox", "--schedule=TZ=UTC 0 * * * *")
    assert tz.returncode != 0 and "cannot use TZ or CRON_TZ in schedule, use timeZone field instead" in tz.stderr

    kc.kubectl("create", "cronjob", "feb-30", "--image=busybox", "--schedule=0 0 30 2 *", check=True)

    def invalid_schedule_events():
        events = kc.get("/api/v1/namespaces/default/events")["items"]
        return [e for e in events if e.get("involvedObject", {}).get("name") == "feb-30"
                and e.get("reason") == "InvalidSchedule"]
    events = wait_until(invalid_schedule_events, 30, what="an InvalidSchedule event for feb-30")
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == "invalid schedule: 0 0 30 2 * : time difference between two schedules is less than 1 second"
    # not requeued: a later CronJob is still handled promptly, and the event is not repeated
    kc.apply_yaml(CRON.replace("every-minute", "after-feb-30"))
    wait_until(lambda: "lastScheduleTime" in (kc.get("/apis/batch/v1/namespaces/default/cronjobs/after-feb-30")
                                              .get("status") or {}), 75, what="the next CronJob scheduled")
    assert sum(e.get("count", 1) for e in invalid_schedule_events()) == 1
    kc.kubectl("delete", "cronjob", "feb-30", "after-feb-30", check=True)
