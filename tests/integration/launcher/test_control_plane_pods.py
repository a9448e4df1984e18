"""The control plane as mirror pods in kube-system (issue 6) and etcdctl inside the etcd pod
(issue 4), through `kubeling up` and the real kubectl: kubeadm's view of a cluster."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import wait_until

NAME = "cp"
NODE = "controlplane"


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)  # CI installs kubectl: its absence there is a failure
        pytest.skip(why)


def kubeling(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "kubeling", *args], env=env, capture_output=True, text=True,
                         timeout=180)
    if check:
        assert run.returncode == 0, run.stdout + run.stderr
    return run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    _need(shutil.which("kubectl") is not None, "kubectl is not installed")
    tmp = tmp_path_factory.mktemp("cp")
    env = dict(os.environ, KUBELING_HOME=str(tmp / "home"), HOME=str(tmp))
    try:
        kubeling(env, "up", "-d", "--name", NAME, "--nodes", "1")
        env["KUBECONFIG"] = kubeling(env, "kubeconfig", "--name", NAME).stdout.strip()
        plan = json.loads((tmp / "home" / NAME / "cluster.json").read_text())
        yield env, plan
    finally:
        # Stops exactly the processes this cluster's PID files name (started by this fixture).
        kubeling(env, "down", "--name", NAME, "--purge", check=False)  # and out of the machine-wide registry


def kubectl(env: dict, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60, input=input)


def pods(env: dict) -> dict[str, dict]:
    out = kubectl(env, "get", "pods", "-n", "kube-system", "-o", "json")
    assert out.returncode == 0, out.stderr
    return {p["metadata"]["name"]: p for p in json.loads(out.stdout)["items"]}


def ready(pod: dict | None) -> bool:
    return pod is not None and any(c["type"] == "Ready" and c["status"] == "True"
                                   for c in pod.get("status", {}).get("conditions", []))


COMPONENTS = {"etcd-0": "etcd", "etcd-1": "etcd", "etcd-2": "etcd", "kube-apiserver-0": "kube-apiserver",
              "kube-scheduler-0": "kube-scheduler", "kube-controller-manager-0": "kube-controller-manager"}


def test_control_plane_pods_as_kubeadm_shows_them(cluster):
    env, plan = cluster
    want = {f"{c}-{NODE}" for c in COMPONENTS}

    def all_ready() -> dict[str, dict] | None:
        p = pods(env)
        return p if want <= {n for n, x in p.items() if ready(x)} else None
    got = wait_until(all_ready, 60, interval=0.5, what="every control-plane pod Ready")
    for comp, binary in COMPONENTS.items():
        pod = got[f"{comp}-{NODE}"]
        md, spec = pod["metadata"], pod["spec"]
        assert md["labels"] == {"component": binary, "tier": "control-plane"}
        assert "kubernetes.io/config.mirror" in md["annotations"]
        assert md["ownerReferences"][0]["kind"] == "Node" and md["ownerReferences"][0]["name"] == NODE
        assert spec["nodeName"] == NODE and spec["hostNetwork"] is True
        assert spec["priorityClassName"] == "system-node-critical"
        c = spec["containers"][0]
        assert c["image"].startswith(f"registry.k8s.io/{binary}:")
        # the component's real command line, under its upstream name, in kubeadm's --flag=value form
        args = next(x["args"] for x in plan["components"] if x["name"] == comp)
        assert c["command"][0] == binary
        assert " ".join(c["command"][1:]).replace("=", " ") == " ".join(args[1:]).replace("=", " ")
        assert f"--name={comp}" in c["command"] if binary == "etcd" else "--bind-address=127.0.0.1" in c["command"]
        port = int(next(x["health_url"] for x in plan["components"] if x["name"] == comp).split(":")[2].split("/")[0])
        assert c["readinessProbe"]["httpGet"]["port"] == port and c["readinessProbe"]["httpGet"]["host"] == "127.0.0.1"
        assert pod["status"]["podIP"] == plan["node_ips"][NODE]  # host network: the node's address
    node = json.loads(kubectl(env, "get", "node", NODE, "-o", "json").stdout)
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]
    # `kubectl logs` on a control-plane pod is the component's own log
    logs = kubectl(env, "logs", "-n", "kube-system", f"etcd-0-{NODE}")
    assert "etcd member started" in logs.stdout, logs.stdout[-2000:] + logs.stderr
    roles = kubectl(env, "get", "nodes").stdout
    assert any(line.split()[:3] == [NODE, "Ready", "control-plane"] for line in roles.splitlines()), roles


def test_etcdctl_in_the_etcd_pod_talks_to_its_own_member(cluster):
    env, plan = cluster
    wait_until(lambda: ready(pods(env).get(f"etcd-1-{NODE}")), 60, interval=0.5, what="etcd-1's pod Ready")
    member = plan["store_urls"][1]
    # the note's `kubectl exec etcd-master -n kube-system etcdctl get / --prefix --keys-only`
    keys = kubectl(env, "exec", f"etcd-1-{NODE}", "-n", "kube-system", "--", "etcdctl", "get", "/", "--prefix",
                   "--keys-only")
    assert keys.returncode == 0, keys.stderr
    assert "/registry/namespaces/kube-system\n" in keys.stdout
    assert f"/registry/pods/kube-system/etcd-1-{NODE}\n" in keys.stdout
    # byte for byte what `kubeling etcdctl` prints against the same member
    args = ("get", "/registry/namespaces", "--prefix", "--keys-only")
    inside = kubectl(env, "exec", f"etcd-1-{NODE}", "-n", "kube-system", "--", "etcdctl", *args)
    pki = os.path.join(env["KUBELING_HOME"], NAME, "pki")  # the store admits certificate holders only
    outside = kubeling(env, "etcdctl", "--endpoints", member, f"--cacert={pki}/etcd-ca.crt",
                       f"--cert={pki}/healthcheck-client.crt", f"--key={pki}/healthcheck-client.key", *args)
    # the admin's certificate is the cluster CA's, not the store's: the store refuses it
    admin = kubeling(env, "etcdctl", "--endpoints", member, f"--cacert={pki}/etcd-ca.crt", "--command-timeout=2s",
                     f"--cert={pki}/admin.crt", f"--key={pki}/admin.key", *args, check=False)
    assert admin.returncode != 0 and "/registry" not in admin.stdout
    assert inside.stdout == outside.stdout and inside.stdout
    status = kubectl(env, "exec", f"etcd-1-{NODE}", "-n", "kube-system", "--", "etcdctl", "endpoint", "status")
    assert status.stdout.split(",")[0] == member, status.stdout  # the local member, not etcd-0
    # interactively, through the container's shell (as after `kubectl exec -it ... -- sh`)
    shell = kubectl(env, "exec", "-i", f"etcd-0-{NODE}", "-n", "kube-system", "--", "sh",
                    input="etcdctl get /registry/namespaces/default --keys-only\nexit\n")
    assert shell.stdout == "/registry/namespaces/default\n\n", shell.stdout + shell.stderr
    # only the etcd image ships etcdctl
    other = kubectl(env, "exec", f"kube-apiserver-0-{NODE}", "-n", "kube-system", "--", "etcdctl", "version")
    assert other.returncode != 0 and "etcdctl" in other.stdout + other.stderr


def _alive_pid(env: dict, component: str) -> int | None:
    """The component's PID if that process runs (and is not a zombie)."""
    try:
        pid = int((Path(env["KUBELING_HOME"]) / NAME / "pids" / f"{component}.pid").read_text())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError):
        return None
    return None if state == "Z" else pid


def test_killing_a_component_makes_its_pod_not_ready_and_starting_it_ready_again(cluster):
    env, _ = cluster
    pod = f"etcd-2-{NODE}"
    wait_until(lambda: ready(pods(env).get(pod)), 60, interval=0.5, what=f"{pod} Ready")
    kubeling(env, "kill", "etcd-2", "--name", NAME)
    try:
        wait_until(lambda: not ready(pods(env).get(pod)), 30, interval=0.5, what=f"{pod} NotReady")
        events = kubectl(env, "get", "events", "-n", "kube-system", "--field-selector",
                         f"involvedObject.name={pod},reason=Unhealthy", "-o", "json")
        assert "Readiness probe failed" in events.stdout
        # A drill's kill is a stop by hand: the kubelet does not bring the member back by itself,
        # not even after its first restart back-off (10 s) would have passed.
        with pytest.raises(TimeoutError):
            wait_until(lambda: _alive_pid(env, "etcd-2"), 15, interval=0.5, what="etcd-2 restarted")
    finally:
        kubeling(env, "start", "etcd-2", "--name", NAME)
    wait_until(lambda: ready(pods(env).get(pod)), 30, interval=0.5, what=f"{pod} Ready again")
    # the drills' short names work too (`kubeling kill apiserver-0`); starting a running one is a no-op
    assert kubeling(env, "start", "apiserver-0", "--name", NAME).stdout.startswith("kube-apiserver-0 running")


def test_a_component_that_exits_by_itself_is_restarted_by_the_kubelet(cluster):
    """As on kubeadm, where a scheduler that lost its Lease exits and its static pod restarts."""
    env, _ = cluster
    pod = f"kube-scheduler-0-{NODE}"
    wait_until(lambda: ready(pods(env).get(pod)), 60, interval=0.5, what=f"{pod} Ready")
    old = _alive_pid(env, "kube-scheduler-0")
    assert old is not None
    os.kill(old, signal.SIGTERM)  # not through kubeling: the process just ends (exit 0)
    new = wait_until(lambda: (p := _alive_pid(env, "kube-scheduler-0")) and p != old and p, 60, interval=0.5,
                     what="the scheduler started again by the controlplane kubelet")
    assert new != old

    def restarted_and_ready():
        p = pods(env).get(pod)
        return ready(p) and p["status"]["containerStatuses"][0]["restartCount"] >= 1 and p

    p = wait_until(restarted_and_ready, 60, interval=0.5, what=f"{pod} Ready with a restart counted")
    assert p["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] in ("Error", "Completed")
