"""The control plane's static pod manifests (services/launcher/manifests.py), kubeadm's shape."""
from __future__ import annotations

import yaml

from kubeling.services.launcher.manifests import kubeadm_form, static_pod, write_manifests
from kubeling.services.launcher.state import ClusterDir, Component, Plan


def test_kubeadm_form_joins_flag_values():
    assert kubeadm_form(["--name", "etcd-0", "--leader-elect", "--initial-cluster", "a=http://x", "--v=2"]) == \
        ["--name=etcd-0", "--leader-elect", "--initial-cluster=a=http://x", "--v=2"]


def test_etcd_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBELING_HOME", str(tmp_path))
    cdir = ClusterDir("c")
    comp = Component("etcd-1", "etcd", ["etcd", "--name", "etcd-1", "--listen-client-urls", "http://127.0.0.1:2381"],
                     health_url="http://127.0.0.1:2392/health")
    pod = static_pod(comp, cdir)
    c = pod["spec"]["containers"][0]
    assert pod["metadata"] == {"name": "etcd-1", "namespace": "kube-system",
                               "labels": {"component": "etcd", "tier": "control-plane"},
                               "annotations": {"kubeadm.kubernetes.io/etcd.advertise-client-urls": "http://127.0.0.1:2381"}}
    assert pod["spec"]["hostNetwork"] is True and pod["spec"]["priorityClassName"] == "system-node-critical"
    assert c["image"] == "registry.k8s.io/etcd:3.5.16-0"
    assert c["command"] == ["etcd", "--name=etcd-1", "--listen-client-urls=http://127.0.0.1:2381"]
    # probes go to the metrics listener, which needs no client certificate (kubeadm: :2381/health)
    assert c["readinessProbe"]["httpGet"] == {"host": "127.0.0.1", "path": "/readyz", "port": 2392, "scheme": "HTTP"}
    assert c["readinessProbe"]["periodSeconds"] == 1
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["ETCDCTL_ENDPOINTS"] == "http://127.0.0.1:2381"
    assert env["KUBELING_LOG_FILE"] == str(cdir.log_path("etcd-1"))
    assert "ETCDCTL_CERT" not in env


def test_secured_etcd_manifest_gives_etcdctl_the_members_certificate(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBELING_HOME", str(tmp_path))
    comp = Component("etcd-0", "etcd", ["etcd", "--advertise-client-urls", "https://127.0.0.1:2379",
                                        "--cert-file", "/p/etcd-server.crt", "--key-file", "/p/etcd-server.key",
                                        "--trusted-ca-file", "/p/ca.crt", "--client-cert-auth"],
                     health_url="http://127.0.0.1:2391/health")
    env = {e["name"]: e["value"] for e in static_pod(comp, ClusterDir("c"))["spec"]["containers"][0]["env"]}
    assert env["ETCDCTL_ENDPOINTS"] == "https://127.0.0.1:2379"
    assert (env["ETCDCTL_CACERT"], env["ETCDCTL_CERT"], env["ETCDCTL_KEY"]) == \
        ("/p/ca.crt", "/p/etcd-server.crt", "/p/etcd-server.key")


def test_write_manifests_keeps_unchanged_files_and_drops_stale_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBELING_HOME", str(tmp_path))
    cdir = ClusterDir("c")
    api = Component("kube-apiserver-0", "apiserver", ["apiserver", "--secure-port", "6443"],
                    health_url="http://127.0.0.1:6443/readyz")
    node = Component("node-1", "node", ["node"], health_url="http://127.0.0.1:10250/healthz")
    stale = cdir.root / "manifests" / "kube-apiserver-1.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("kind: Pod\n")
    [path] = write_manifests(cdir, Plan("c", components=[api, node]))
    assert path.name == "kube-apiserver-0.yaml" and not stale.exists()
    assert yaml.safe_load(path.read_text())["spec"]["containers"][0]["command"][:2] == ["kube-apiserver",
                                                                                       "--secure-port=6443"]
    mtime = path.stat().st_mtime_ns
    write_manifests(cdir, Plan("c", components=[api, node]))
    assert path.stat().st_mtime_ns == mtime  # unchanged content: the file (and its pod) is left alone
