"""In-process tests of the node agent's pure parts: the fake registry, the command interpreter,
pod phase computation, IPAM, back-off, and kube-proxy's rule computation."""
from __future__ import annotations

import asyncio

import pytest

from kubeling.services.node.kubelet import images
from kubeling.services.node.kubelet.backoff import Backoff
from kubeling.services.node.kubelet.ipam import IPAM
from kubeling.services.node.kubelet.program import Context, Process, StartError
from kubeling.services.node.kubelet.status import get_phase, qos_class
from kubeling.services.node.proxy.rules import compute, iptables_save, svc_chain


@pytest.mark.parametrize("ref,repo", [("nginx", "nginx"), ("nginx:1.27-alpine", "nginx"),
                                      ("docker.io/library/nginx:latest", "nginx"), ("registry.k8s.io/pause:3.9", "pause"),
                                      ("kodekloud/webapp-color:v1", "kodekloud/webapp-color"), ("localhost:5000/app:1", "app")])
def test_image_repository(ref, repo):
    assert images.repository(ref) == repo


def test_unknown_image_and_normalized_reference():
    assert images.lookup("ngnix") is None and images.lookup("redis:7").ports == (6379,)
    assert images.normalized("nginx") == "docker.io/library/nginx:latest"


def run(argv, env=None):
    out: list[str] = []

    async def serve() -> None:
        await asyncio.Event().wait()

    async def go() -> int:
        return await asyncio.wait_for(Process(argv, Context(out.append, dict(env or {}), "pod-x", serve)).run(), 5)
    return asyncio.run(go()), out


@pytest.mark.parametrize("script,code,lines", [
    ("echo hi $NAME; exit 3; echo never", 3, ["hi world"]),
    ("false && echo no || echo yes", 0, ["yes"]),
    ("for i in a b; do echo $i; done | tail -n 1", 0, ["b"]),
    ("i=0; echo $(hostname)", 0, ["pod-x"]),
    ("i=0; while [ $i -lt 3 ]; do echo \"$i: tick\"; i=$((i+1)); done", 0, ["0: tick", "1: tick", "2: tick"]),
    ("[ -z \"$MISSING\" ] && echo empty; test 2 -gt 5 || echo small", 0, ["empty", "small"]),
    ("echo one two | grep -v one", 1, []),
    ("until false; do echo once; exit 0; done", 0, ["once"]),
    ("sleep 0.01; echo slept", 0, ["slept"]),
])
def test_shell_scripts(script, code, lines):
    got_code, out = run(["sh", "-c", script], {"NAME": "world"})
    assert (got_code, out) == (code, lines)


def test_shell_without_script_exits_at_once_and_unknown_binary_cannot_start():
    assert run(["sh"]) == (0, [])
    with pytest.raises(StartError, match='exec: "nosuch": executable file not found in \\$PATH'):
        Process(["nosuch"], Context(print, {}, "h", lambda: asyncio.sleep(0)))


def test_sigterm_rules_follow_pid1():
    ctx = Context(print, {}, "h", lambda: asyncio.sleep(0))
    assert Process(["sleep", "10"], ctx).sigterm() == "ignored"
    assert Process(["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"], ctx).sigterm() == "exit"
    assert Process(["python", "app.py"], ctx).sigterm() == "die"


def status(state: dict, last: dict | None = None) -> dict:
    return {"name": "c", "state": state, "lastState": last or {}}


@pytest.mark.parametrize("policy,statuses,phase", [
    ("Always", [status({"running": {}})], "Running"),
    ("Always", [status({"waiting": {"reason": "ContainerCreating"}})], "Pending"),
    ("Always", [status({"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {"exitCode": 1}})], "Running"),
    ("Never", [status({"terminated": {"exitCode": 0}})], "Succeeded"),
    ("Never", [status({"terminated": {"exitCode": 0}}), status({"terminated": {"exitCode": 2}})], "Failed"),
    ("OnFailure", [status({"terminated": {"exitCode": 0}})], "Succeeded"),
])
def test_get_phase(policy, statuses, phase):
    assert get_phase({"spec": {"restartPolicy": policy}}, [], statuses) == phase


def test_failed_init_container_fails_a_never_pod_and_keeps_others_pending():
    failed = [status({"terminated": {"exitCode": 1}})]
    assert get_phase({"spec": {"restartPolicy": "Never"}}, failed, [status({"waiting": {}})]) == "Failed"
    assert get_phase({"spec": {"restartPolicy": "Always"}}, failed, [status({"waiting": {}})]) == "Pending"


def test_qos_class():
    c = lambda res: {"spec": {"containers": [{"resources": res}]}}  # noqa: E731
    assert qos_class(c({})) == "BestEffort"
    assert qos_class(c({"requests": {"cpu": "1"}})) == "Burstable"
    assert qos_class(c({"limits": {"cpu": "1", "memory": "1Gi"}})) == "Guaranteed"


def test_ipam_skips_gateway_reuses_released_last_and_readopts():
    ipam = IPAM("127.244.3.0/29")
    a, b = ipam.allocate("a"), ipam.allocate("b")
    assert (a, b) == ("127.244.3.2", "127.244.3.3") and ipam.allocate("a") == a
    ipam.release("a")
    assert ipam.allocate("c") == "127.244.3.4"
    assert ipam.allocate("d", want="127.244.3.2") == "127.244.3.2"


def test_backoff_doubles_to_the_cap():
    t = [0.0]
    b = Backoff(10, 40, clock=lambda: t[0])
    assert [b.next("k") for _ in range(4)] == [10, 20, 40, 40]
    assert b.in_backoff("k") == 40
    t[0] = 100.0
    assert b.in_backoff("k") == 0 and b.next("k") == 10  # quiet for > 2x max: start over


def test_proxy_rules_probabilities_affinity_and_no_endpoints():
    svc = {"metadata": {"namespace": "default", "name": "web"},
           "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "sessionAffinity": "ClientIP",
                    "ports": [{"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"}]}}
    empty = {"metadata": {"namespace": "default", "name": "empty"},
             "spec": {"clusterIP": "10.96.0.11", "ports": [{"port": 81}]}}
    headless = {"metadata": {"namespace": "default", "name": "db"}, "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}}
    sl = {"metadata": {"namespace": "default", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4",
          "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
          "endpoints": [{"addresses": [f"10.244.1.{i}"], "conditions": {"ready": i != 4}} for i in (1, 2, 3, 4)]}
    ports = compute([svc, empty, headless], [sl])
    assert [p.id for p in ports] == ["default/empty", "default/web:http"]
    web = ports[1]
    assert [str(e) for e in web.endpoints] == ["10.244.1.1:8080", "10.244.1.2:8080", "10.244.1.3:8080"]
    text = iptables_save(ports)
    chain = svc_chain("default/web:http", "tcp")
    probs = [ln.split("--probability ")[1].split()[0] for ln in text.splitlines() if "--probability" in ln]
    assert probs == ["0.3333333333", "0.5000000000"]
    assert text.count(f"-A {chain} ") == 6  # three affinity checks + three jumps
    assert "--rcheck --seconds 10800 --reap" in text and "-m recent --set --name KUBE-SEP-" in text
    assert '"default/empty has no endpoints"' in text and "--dport 81 -j REJECT" in text
    assert "-A KUBE-NODEPORTS" in text and "--dport 30080 -j KUBE-EXT-" in text
