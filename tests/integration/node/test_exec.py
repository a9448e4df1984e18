"""`kubectl exec` through the apiserver's pods/exec WebSocket relay into a node agent's fake
container: output, container choice, the container's env, exit codes, stdin, and errors."""
from __future__ import annotations

import os
import pty
import select
import signal
import time

import pytest

from tests.integration.node.cluster import KubeCluster, pod_manifest


def _running(kc: KubeCluster, name: str) -> None:
    kc.wait_pod(name, lambda p: p.get("status", {}).get("phase") == "Running"
                and all(cs.get("state", {}).get("running") for cs in p["status"].get("containerStatuses") or [{}]),
                what="Running")


@pytest.fixture(scope="module")
def pods(kc: KubeCluster):
    two = pod_manifest("exec-two", "busybox", command=["sleep", "3600"], container_name="main",
                       terminationGracePeriodSeconds=1)
    two["spec"]["containers"][0]["env"] = [{"name": "GREETING", "value": "hello-from-env"}]
    two["spec"]["containers"].append({"name": "side", "image": "busybox", "command": ["sleep", "3600"],
                                      "env": [{"name": "SIDE_ONLY", "value": "yes"}]})
    two["metadata"]["annotations"] = {"kubectl.kubernetes.io/default-container": "main"}
    kc.apply(two)
    _running(kc, "exec-two")
    yield
    kc.delete_pods("exec-two")


def test_exec_prints_output_through_the_apiserver(kc: KubeCluster, pods):
    res = kc.kubectl("exec", "exec-two", "--", "echo", "hi", check=True)
    assert res.stdout == "hi\n"
    assert "falling back" not in res.stderr.lower() and "spdy" not in res.stderr.lower()
    assert kc.kubectl("exec", "exec-two", "--", "hostname", check=True).stdout == "exec-two\n"


def test_exec_container_flag_and_env(kc: KubeCluster, pods):
    env = kc.kubectl("exec", "exec-two", "--", "env", check=True).stdout
    assert "GREETING=hello-from-env" in env and "SIDE_ONLY" not in env
    side = kc.kubectl("exec", "exec-two", "-c", "side", "--", "env", check=True).stdout
    assert "SIDE_ONLY=yes" in side and "GREETING" not in side
    # Files written by one exec are seen by the next one in the same container.
    kc.kubectl("exec", "exec-two", "-c", "side", "--", "sh", "-c", "echo data > /tmp/f", check=True)
    assert kc.kubectl("exec", "exec-two", "-c", "side", "--", "cat", "/tmp/f", check=True).stdout == "data\n"


def test_exec_exit_code_is_propagated(kc: KubeCluster, pods):
    res = kc.kubectl("exec", "exec-two", "--", "sh", "-c", "echo before; exit 3")
    assert res.returncode == 3, res.stderr
    assert res.stdout == "before\n"
    assert "command terminated with exit code 3" in res.stderr
    res = kc.kubectl("exec", "exec-two", "--", "nosuchcmd")
    assert res.returncode != 0 and "nosuchcmd" in res.stdout + res.stderr


def test_exec_with_stdin_runs_a_shell_line_by_line(kc: KubeCluster, pods):
    res = kc.kubectl("exec", "-i", "exec-two", "--", "sh", input="echo one\nhostname\necho $GREETING\n", timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "one\nexec-two\nhello-from-env\n"
    res = kc.kubectl("exec", "-i", "exec-two", "--", "sh", input="echo a\nexit 4\necho never\n", timeout=30)
    assert res.returncode == 4 and res.stdout == "a\n"


def test_exec_errors(kc: KubeCluster, pods):
    res = kc.kubectl("exec", "no-such-pod", "--", "echo", "hi")
    assert res.returncode == 1
    assert 'Error from server (NotFound): pods "no-such-pod" not found' in res.stderr
    res = kc.kubectl("exec", "exec-two", "-c", "nope", "--", "echo", "hi")
    assert res.returncode == 1
    assert "container nope is not valid for pod exec-two" in res.stderr


def test_exec_into_a_container_that_is_not_running(kc: KubeCluster):
    kc.apply(pod_manifest("exec-crash", "busybox", command=["sh", "-c", "exit 1"], terminationGracePeriodSeconds=1))
    try:
        kc.wait_pod("exec-crash", lambda p: any(cs.get("state", {}).get("waiting")
                                                for cs in p.get("status", {}).get("containerStatuses") or []),
                    what="container waiting to restart")
        res = kc.kubectl("exec", "exec-crash", "--", "echo", "hi")
        assert res.returncode == 1
        assert 'unable to upgrade connection: container not found ("exec-crash")' in res.stderr
    finally:
        kc.delete_pods("exec-crash")


def test_exec_interactive_tty(kc: KubeCluster, pods):
    """`kubectl exec -it POD -- sh` on a pseudo-terminal: prompt, echo, one command per line, exit."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl with the pty as its terminal
        os.execvpe("kubectl", ["kubectl", f"--cache-dir={kc.home}/cache", "exec", "-it", "exec-two", "--", "sh"], kc.env())
    buf = bytearray()

    def expect(needle: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while needle not in buf:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {needle!r}; got {bytes(buf)!r}"
            if select.select([fd], [], [], left)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                assert chunk, f"kubectl ended before {needle!r}; got {bytes(buf)!r}"
                buf.extend(chunk)
    try:
        expect(b"/ # ")
        os.write(fd, b"echo $GREETING\r")
        expect(b"hello-from-env\r\n/ # ")
        os.write(fd, b"exit 5\r")
        expect(b"command terminated with exit code 5")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
    finally:
        os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
