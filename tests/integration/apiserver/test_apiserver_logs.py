"""`kubectl logs` goes through the apiserver to the pod's node agent (the kubelet API path
`/containerLogs/<ns>/<pod>/<container>`). A tiny stand-in for the node agent's log endpoint
serves the logs; the apiserver, store and kubectl are real."""
from __future__ import annotations

import http.server
import threading
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.etcd
LINES = ["starting", "listening on :80", "ready"]


class _NodeLogs(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        u = urlparse(self.path)
        parts = u.path.strip("/").split("/")
        if parts[0] != "containerLogs" or len(parts) != 4:
            self.send_error(404)
            return
        tail = parse_qs(u.query).get("tailLines")
        lines = LINES[-int(tail[0]):] if tail else LINES
        body = "".join(f"{parts[2]}/{parts[3]}: {line}\n" for line in lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def node_agent():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NodeLogs)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_logs_are_proxied_to_the_node_agent(cluster, node_agent):
    h = cluster.http
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "logs-node"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": node_agent}}}}
    assert h.post("/api/v1/nodes", json=node).status_code == 201
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "chatty"},
           "spec": {"containers": [{"name": "web", "image": "nginx"}, {"name": "side", "image": "busybox"}]}}
    assert h.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
    res = cluster.kubectl("logs", "chatty", "-c", "web")
    assert res.returncode == 1 and 'is waiting to start: ContainerCreating' in res.stderr
    h.post("/api/v1/namespaces/default/pods/chatty/binding", json={"metadata": {"name": "chatty"}, "target": {"kind": "Node", "name": "logs-node"}})
    out = cluster.kubectl("logs", "chatty", "-c", "web", check=True).stdout
    assert out.splitlines() == [f"chatty/web: {line}" for line in LINES]
    assert cluster.kubectl("logs", "chatty", "-c", "side", "--tail=1", check=True).stdout == "chatty/side: ready\n"
    r = h.get("/api/v1/namespaces/default/pods/chatty/log")
    assert r.status_code == 400 and "a container name must be specified for pod chatty, choose one of: [web side]" in r.json()["message"]
    r = h.get("/api/v1/namespaces/default/pods/chatty/log", params={"container": "nope"})
    assert r.status_code == 400 and r.json()["message"] == "container nope is not valid for pod chatty"


def test_node_proxy_relays_gets_to_the_node_agent(cluster, node_agent):
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "proxied-node"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": node_agent}}}}
    assert cluster.http.post("/api/v1/nodes", json=node).status_code == 201
    out = cluster.kubectl("get", "--raw", "/api/v1/nodes/proxied-node/proxy/containerLogs/ns/p/c?tailLines=1", check=True).stdout
    assert out == "p/c: ready\n"
    r = cluster.http.get("/api/v1/nodes/no-such-node/proxy/pods")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
