"""Node agents with real processes: registration and heartbeats, pods that run with IPs that
answer HTTP, CrashLoopBackOff, image pull failures, init containers, restart policies,
`kubectl logs` through the apiserver, and graceful termination."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.node.cluster import KubeCluster, curl, pod_manifest
from tests.support.procs import wait_until

pytestmark = pytest.mark.etcd


def running(kc: KubeCluster, name: str, timeout: float = 30) -> dict:
    return kc.wait_pod(name, lambda p: p["status"].get("phase") == "Running" and all(
        c.get("ready") for c in p["status"].get("containerStatuses", [])) and p["status"].get("podIP"),
        timeout=timeout, what=f"{name} Running and ready")


def state_of(p: dict, container: int = 0) -> dict:
    return (p["status"].get("containerStatuses") or [{}])[container].get("state") or {}


def test_node_registers_with_capacity_labels_conditions_and_heartbeats(kc: KubeCluster):
    n = kc.http.get("/api/v1/nodes/node-1").json()
    labels = n["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "node-1" and labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == "amd64" and labels["zone"] == "a"
    st = n["status"]
    assert st["capacity"]["cpu"] == "4" and st["capacity"]["memory"] == "8Gi" and st["allocatable"]["pods"] == "50"
    assert {"type": "InternalIP", "address": kc.node_ips["node-1"]} in st["addresses"]
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False"}
    assert st["nodeInfo"]["kubeletVersion"] == "v1.32.0" and st["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
    assert n["spec"]["podCIDR"] == f"127.{kc.block}.1.0/24"
    lease_url = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"
    first = kc.http.get(lease_url).json()["spec"]
    assert first["holderIdentity"] == "node-1"
    wait_until(lambda: kc.http.get(lease_url).json()["spec"]["renewTime"] != first["renewTime"], timeout=15,
               what="node lease renewal")
    out = kc.kubectl("get", "nodes", check=True).stdout
    assert "node-1   Ready" in out and "node-2   Ready" in out
    port = st["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    metrics = httpx.get(f"http://{kc.node_ips['node-1']}:{port}/metrics", timeout=5).text
    assert 'kubelet_node_name{node="node-1"} 1.0' in metrics and "kubelet_running_pods" in metrics
    assert httpx.get(f"http://{kc.node_ips['node-1']}:{port}/healthz", timeout=5).text == "ok"
    reasons = wait_until(lambda: (lambda r: r if "NodeReady" in r else None)(
        [e["reason"] for e in kc.events_for("node-1") if e["involvedObject"]["kind"] == "Node"]), timeout=10,
        what="node events")
    assert "Starting" in reasons and "NodeHasSufficientMemory" in reasons
    assert "Starting kubelet." in kc.kubectl("describe", "node", "node-1", check=True).stdout


def test_pod_runs_with_an_ip_from_the_podcidr_and_its_ports_answer(kc: KubeCluster):
    kc.apply(pod_manifest("web", "nginx:1.27", nodeSelector={"zone": "a"}))
    p = running(kc, "web")
    ip = p["status"]["podIP"]
    assert ip.startswith(f"127.{kc.block}.1.") and p["status"]["hostIP"] == kc.node_ips["node-1"]
    conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                     "ContainersReady": "True", "PodScheduled": "True"}
    res = curl(f"http://{ip}:80/hello")  # nginx listens on 80 without declaring it
    assert res.stdout.splitlines()[:6] == ["Welcome to nginx!", "pod: web", "namespace: default", "container: web",
                                           "image: nginx:1.27", "node: node-1"]
    # A declared containerPort answers too, even on an image without a server of its own.
    kc.apply(pod_manifest("sleeper", "busybox", command=["sleep", "3600"], ports=[{"containerPort": 8080}],
                          terminationGracePeriodSeconds=1))
    ip2 = running(kc, "sleeper")["status"]["podIP"]
    assert ip2 != ip
    assert "container: sleeper" in curl(f"http://{ip2}:8080/").stdout
    assert curl(f"http://{ip2}:80/").returncode != 0  # busybox serves nothing else
    # The request was logged by the container, and kubectl logs reads it through the apiserver.
    logs = wait_until(lambda: (lambda out: out if "GET /hello" in out else None)(
        kc.kubectl("logs", "web", check=True).stdout), timeout=10, what="access log line")
    assert logs.splitlines()[0].startswith("/docker-entrypoint.sh")
    assert kc.kubectl("logs", "web", "--tail=1", check=True).stdout.count("\n") == 1
    kc.delete_pods("web", "sleeper")


def test_crashing_container_reaches_crashloopbackoff_with_previous_logs(kc: KubeCluster):
    kc.kubectl("run", "crasher", "--image=busybox", "--", "sh", "-c", "echo starting; echo failing now; exit 3", check=True)
    p = kc.wait_pod("crasher", lambda p: state_of(p).get("waiting", {}).get("reason") == "CrashLoopBackOff",
                    what="CrashLoopBackOff")
    cs = p["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 1 and cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert "back-off 10s restarting failed container=crasher" in cs["state"]["waiting"]["message"]
    assert p["status"]["phase"] == "Running"  # restartPolicy Always: the pod is restarting, not failed
    assert "CrashLoopBackOff" in kc.kubectl("get", "pod", "crasher", check=True).stdout
    assert kc.kubectl("logs", "crasher", "--previous", check=True).stdout == "starting\nfailing now\n"
    # Back-off grows: the next restart waits 10s, then 20s.
    p = kc.wait_pod("crasher", lambda p: "back-off 20s" in state_of(p).get("waiting", {}).get("message", ""),
                    timeout=40, what="back-off doubled to 20s")
    assert p["status"]["containerStatuses"][0]["restartCount"] >= 2
    wait_until(lambda: any(e["reason"] == "BackOff" for e in kc.events_for("crasher")), timeout=10, what="BackOff event")
    kc.delete_pods("crasher")


def test_unknown_image_fails_to_pull(kc: KubeCluster):
    kc.kubectl("run", "typo", "--image=ngnix:latest", check=True)
    kc.wait_pod("typo", lambda p: state_of(p).get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff"),
                what="image pull failure")
    p = kc.wait_pod("typo", lambda p: state_of(p).get("waiting", {}).get("reason") == "ImagePullBackOff",
                    what="ImagePullBackOff")
    assert p["status"]["phase"] == "Pending"
    assert 'Back-off pulling image "ngnix:latest"' in state_of(p)["waiting"]["message"]
    msgs = wait_until(lambda: (lambda m: m if "Error: ErrImagePull" in m else None)(
        [e["message"] for e in kc.events_for("typo")]), timeout=10, what="ErrImagePull event")
    assert any(m.startswith('Failed to pull image "ngnix:latest": rpc error: code = NotFound') for m in msgs)
    kc.delete_pods("typo")


def test_init_containers_run_in_order_before_the_app(kc: KubeCluster):
    m = pod_manifest("withinit", "busybox", command=["sh", "-c", "echo app started; sleep 3600"],
                     terminationGracePeriodSeconds=1)
    m["spec"]["initContainers"] = [{"name": "first", "image": "busybox", "command": ["sh", "-c", "echo one; sleep 1"]},
                                   {"name": "second", "image": "busybox", "command": ["echo", "two"]}]
    kc.apply(m)
    p = kc.wait_pod("withinit", lambda p: [s.get("state", {}).get("running") is not None
                                           for s in p["status"].get("initContainerStatuses", [])] == [True, False],
                    what="first init container running")
    assert state_of(p).get("waiting", {}).get("reason") == "PodInitializing" and p["status"]["phase"] == "Pending"
    assert "Init:0/2" in kc.kubectl("get", "pod", "withinit", check=True).stdout
    p = running(kc, "withinit")
    inits = p["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
    assert inits[0]["state"]["terminated"]["finishedAt"] <= inits[1]["state"]["terminated"]["startedAt"]
    assert kc.kubectl("logs", "withinit", "-c", "second", check=True).stdout == "two\n"
    kc.delete_pods("withinit")


@pytest.mark.parametrize("name,script,phase,reason", [
    ("done-ok", "echo bye; exit 0", "Succeeded", "Completed"),
    ("done-bad", "exit 7", "Failed", "Error"),
])
def test_restart_policy_never_ends_in_a_terminal_phase(kc: KubeCluster, name, script, phase, reason):
    kc.apply(pod_manifest(name, "busybox", command=["sh", "-c", script], restartPolicy="Never"))
    p = kc.wait_pod(name, lambda p: p["status"].get("phase") == phase, what=f"{name} {phase}")
    term = state_of(p)["terminated"]
    assert term["reason"] == reason and p["status"]["containerStatuses"][0]["restartCount"] == 0
    assert reason in kc.kubectl("get", "pod", name, check=True).stdout
    kc.delete_pods(name)


def test_graceful_delete_waits_for_the_grace_period_of_a_process_ignoring_sigterm(kc: KubeCluster):
    kc.apply(pod_manifest("stubborn", "busybox", command=["sleep", "3600"], terminationGracePeriodSeconds=2))
    running(kc, "stubborn")
    t0 = time.monotonic()
    kc.kubectl("delete", "pod", "stubborn", "--wait=true", check=True)
    took = time.monotonic() - t0
    assert took >= 1.5  # sleep as PID 1 ignores SIGTERM: SIGKILL after the 2s grace period
    assert kc.http.get("/api/v1/namespaces/default/pods/stubborn").status_code == 404
    # nginx exits on SIGTERM at once
    kc.apply(pod_manifest("polite", "nginx", terminationGracePeriodSeconds=30))
    running(kc, "polite")
    t0 = time.monotonic()
    kc.kubectl("delete", "pod", "polite", "--wait=true", check=True)
    assert time.monotonic() - t0 < 15


def test_logs_follow_streams_new_lines(kc: KubeCluster):
    kc.apply(pod_manifest("ticker", "busybox", command=["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 1; done; sleep 3600"],
                          terminationGracePeriodSeconds=1))
    running(kc, "ticker")
    proc = kc.kubectl_popen("logs", "-f", "ticker")
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        assert lines == ["tick 1\n", "tick 2\n", "tick 3\n"]
    finally:
        proc.kill()
        proc.wait()
    kc.delete_pods("ticker")


def test_restarted_node_agent_readopts_its_pods(kc: KubeCluster):
    kc.apply(pod_manifest("keeper", "nginx", nodeSelector={"kubernetes.io/hostname": "node-2"}))
    kc.apply(pod_manifest("finished", "busybox", command=["echo", "done"], restartPolicy="Never",
                          nodeSelector={"kubernetes.io/hostname": "node-2"}))
    ip = running(kc, "keeper")["status"]["podIP"]
    kc.wait_pod("finished", lambda p: p["status"].get("phase") == "Succeeded", what="finished Succeeded")
    proc = kc.restart_node("node-2")
    assert proc.alive()
    # The old agent's fake containers died with it: the new agent re-creates the sandbox with the
    # same IP and starts the container again as a restart; the finished pod is left alone.
    p = kc.wait_pod("keeper", lambda p: p["status"]["containerStatuses"][0].get("restartCount") == 1
                    and p["status"]["containerStatuses"][0].get("ready"), timeout=30, what="keeper restarted")
    assert p["status"]["podIP"] == ip and p["status"]["phase"] == "Running"
    assert "pod: keeper" in curl(f"http://{ip}:80/").stdout
    assert kc.pod("finished")["status"]["phase"] == "Succeeded"
    wait_until(lambda: any(e["reason"] == "SandboxChanged" for e in kc.events_for("keeper")), timeout=10,
               what="SandboxChanged event")
    kc.delete_pods("keeper", "finished")


def test_probes_readiness_gates_ready_and_liveness_restarts(kc: KubeCluster):
    ready_probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
    m = pod_manifest("gated", "busybox", command=["sh", "-c", "sleep 2; touch /tmp/ready; sleep 3600"],
                     terminationGracePeriodSeconds=1)
    m["spec"]["containers"][0]["readinessProbe"] = ready_probe
    kc.apply(m)
    p = kc.wait_pod("gated", lambda p: p["status"].get("phase") == "Running", what="gated Running")
    cs = p["status"]["containerStatuses"][0]
    assert "running" in cs["state"] and cs["ready"] is False
    assert {c["type"]: c["status"] for c in p["status"]["conditions"]}["Ready"] == "False"
    kc.wait_pod("gated", lambda p: p["status"]["containerStatuses"][0]["ready"], timeout=15, what="gated ready")

    live = pod_manifest("liveness", "busybox", terminationGracePeriodSeconds=1,
                        command=["sh", "-c", "touch /tmp/healthy; sleep 2; rm -f /tmp/healthy; sleep 600"])
    live["spec"]["containers"][0]["livenessProbe"] = {"exec": {"command": ["cat", "/tmp/healthy"]},
                                                      "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 2}
    live["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 1}
    kc.apply(live)
    p = kc.wait_pod("liveness", lambda p: p["status"]["containerStatuses"][0].get("restartCount", 0) >= 1, timeout=30,
                    what="liveness restart")
    msgs = wait_until(lambda: (lambda m: m if any("failed liveness probe" in x for x in m) else None)(
        [e["message"] for e in kc.events_for("liveness")]), timeout=10, what="Killing event")
    assert "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory" in msgs
    assert "Container liveness failed liveness probe, will be restarted" in msgs
    # busybox serves nothing on 80: the httpGet readiness probe never passes
    assert p["status"]["containerStatuses"][0]["ready"] is False
    assert any(m.startswith('Readiness probe failed: Get "http://') and "connection refused" in m for m in msgs)
    kc.delete_pods("gated", "liveness")


def test_crictl_shows_the_nodes_runtime(kc: KubeCluster):
    import subprocess
    import sys

    kc.apply(pod_manifest("cri-web", "nginx", nodeSelector={"kubernetes.io/hostname": "node-1"}))
    running(kc, "cri-web")

    def crictl(*args: str) -> str:
        res = subprocess.run([sys.executable, "-m", "kubeling", "crictl", "--node", "node-1", "--kubeconfig",
                              str(kc.kubeconfig), *args], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        return res.stdout
    ps = crictl("ps").splitlines()
    assert ps[0].split()[:4] == ["CONTAINER", "IMAGE", "CREATED", "STATE"]
    row = next(ln for ln in ps if ln.rstrip().endswith("cri-web"))
    assert "Running" in row and " nginx " in row
    cid = row.split()[0]
    pods = crictl("pods")
    assert "cri-web" in pods and "Ready" in pods and "default" in pods
    assert "docker.io/library/nginx" in crictl("images")
    status = __import__("json").loads(crictl("inspect", cid))["status"]
    assert status["state"] == "CONTAINER_RUNNING" and status["labels"]["io.kubernetes.pod.name"] == "cri-web"
    assert crictl("logs", cid, "--tail", "1") == "nginx: start worker processes (listening on 80)\n"
    kc.delete_pods("cri-web")


def test_sidecar_starts_first_runs_alongside_and_does_not_hold_completion(kc: KubeCluster):
    m = pod_manifest("withsidecar", "busybox", command=["sh", "-c", "echo main; sleep 3"], restartPolicy="Never",
                     terminationGracePeriodSeconds=1)
    m["spec"]["initContainers"] = [{"name": "logger", "image": "busybox", "restartPolicy": "Always",
                                    "command": ["sh", "-c", "while true; do echo side; sleep 1; done"]}]
    kc.apply(m)
    p = kc.wait_pod("withsidecar", lambda p: p["status"].get("phase") == "Running" and
                    "running" in p["status"]["initContainerStatuses"][0]["state"] and
                    "running" in p["status"]["containerStatuses"][0]["state"], what="sidecar and main running")
    side, main = p["status"]["initContainerStatuses"][0], p["status"]["containerStatuses"][0]
    assert side["state"]["running"]["startedAt"] <= main["state"]["running"]["startedAt"]
    assert {c["type"]: c["status"] for c in p["status"]["conditions"]}["Initialized"] == "True"
    p = kc.wait_pod("withsidecar", lambda p: p["status"].get("phase") == "Succeeded", timeout=30,
                    what="pod Succeeded although its sidecar never exits by itself")
    assert p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert "side" in kc.kubectl("logs", "withsidecar", "-c", "logger", check=True).stdout
    kc.delete_pods("withsidecar")


def test_containers_of_a_pod_share_localhost(kc: KubeCluster):
    m = pod_manifest("duo", "nginx")
    m["spec"]["containers"].append({"name": "client", "image": "busybox",
                                    "command": ["sh", "-c", "sleep 1; wget -qO- localhost:80 | grep container:; sleep 3600"]})
    m["spec"]["terminationGracePeriodSeconds"] = 1
    kc.apply(m)
    out = wait_until(lambda: kc.kubectl("logs", "duo", "-c", "client", check=True).stdout, timeout=20,
                     what="client output")
    assert out == "container: duo\n"  # the nginx container of the same pod answered on localhost
    kc.delete_pods("duo")


def test_kubelet_admission_rejects_a_manually_scheduled_pod_that_does_not_fit(kc: KubeCluster):
    kc.apply(pod_manifest("manual-ok", "nginx", nodeName="node-2"))  # manual scheduling: no scheduler involved
    running(kc, "manual-ok")
    kc.apply(pod_manifest("manual-big", "nginx", nodeName="node-2", resources={"requests": {"cpu": "100"}}))
    p = kc.wait_pod("manual-big", lambda p: p["status"].get("phase") == "Failed", what="rejected at admission")
    assert p["status"]["reason"] == "OutOfcpu"
    assert p["status"]["message"] == ("Pod was rejected: Node didn't have enough resource: cpu, requested: 100000, "
                                      "used: 0, capacity: 4000")
    assert "OutOfcpu" in kc.kubectl("get", "pod", "manual-big", check=True).stdout
    kc.delete_pods("manual-ok", "manual-big")


def test_memory_limit_ooms_a_container_that_exceeds_it(kc: KubeCluster):
    def stress(name: str, limit: str) -> dict:
        return pod_manifest(name, "polinux/stress", command=["stress"], args=["--vm", "1", "--vm-bytes", "150M", "--vm-hang", "1"],
                            resources={"requests": {"memory": "50Mi"}, "limits": {"memory": limit}},
                            terminationGracePeriodSeconds=1)
    kc.apply(stress("mem-ok", "200Mi"))
    kc.apply(stress("mem-oom", "100Mi"))
    running(kc, "mem-ok")
    p = kc.wait_pod("mem-oom", lambda p: (p["status"]["containerStatuses"][0].get("lastState") or {}).get("terminated"),
                    timeout=30, what="OOMKilled")
    term = p["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137
    assert "stress: info: [1] dispatching hogs" in kc.kubectl("logs", "mem-ok", check=True).stdout
    kc.delete_pods("mem-ok", "mem-oom")
