"""The control plane as static pods, the way kubeadm shows it in `kubectl get pods -n kube-system`.

`kubeling up` runs etcd, the apiserver, the scheduler and the controller-manager as host processes
and writes, for each, a static pod manifest into the manifests directory of the `controlplane`
node agent (kubeadm's /etc/kubernetes/manifests). That agent runs the pods and creates their
mirror pods, `<component>-controlplane`, in kube-system. Like kubeadm's, each manifest has
hostNetwork, priorityClassName system-node-critical, the labels component=<binary> and
tier=control-plane, the registry.k8s.io image of the component, the component's real command
line as `command`, and probes that are httpGet on 127.0.0.1 - which, with host networking,
reach the real process. So the pod's status is the component's: `kubeling kill etcd-1` makes
`etcd-1-controlplane` NotReady within seconds (readiness, every second) and, if it stays down,
restarting (liveness); `kubeling start etcd-1` makes it Ready again. A component that exits by
itself (a scheduler that lost its Lease during an apiserver outage) is restarted by the kubelet. The container itself only
stands for the process (services/node/kubelet/program.py, `_component`).

Differences from kubeadm, each for a reason:
- every component has a readinessProbe (kubeadm gives one to etcd and the apiserver only), so a
  killed scheduler or controller-manager shows NotReady in drills instead of after 80 s;
- startupProbes have no initial delay: the launcher starts a component before its pod exists;
- the etcd pod sets ETCDCTL_ENDPOINTS to its member's client URL: on one host the members
  cannot all listen on 127.0.0.1:2379, which is what makes a kubeadm etcd pod's `etcdctl`
  reach its own member; on a secured cluster it also sets ETCDCTL_CACERT/CERT/KEY to the
  member's own certificate, which is what the note's `etcdctl --cacert --cert --key` pass;
- the probes' scheme is the one the launcher checks the component's health with;
- KUBELING_LOG_FILE names the component's log file, which the container follows as its own
  output, so `kubectl logs` on a control-plane pod shows the component's log;
- KUBELING_HOME, KUBELING_CLUSTER and KUBELING_COMPONENT name the process the container stands
  for, so the kubelet restarts it when it exits, as it restarts a kubeadm static pod
  (staticproc.py) - unless a drill stopped it (`kubeling kill`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kubeling.services.node.kubelet.images import control_plane_image

from .state import ClusterDir, Component, Plan

CONTROL_PLANE_NODE = "controlplane"
ROLE = "node-role.kubernetes.io/control-plane"

# kind in the plan -> (upstream binary, cpu request as kubeadm 1.32 sets it, liveness/startup path)
BINARIES: dict[str, tuple[str, str, str]] = {
    "etcd": ("etcd", "100m", "/livez"),
    "apiserver": ("kube-apiserver", "250m", "/livez"),
    "scheduler": ("kube-scheduler", "100m", "/healthz"),
    "controller-manager": ("kube-controller-manager", "200m", "/healthz"),
}
READY_PATH = {"etcd": "/readyz", "apiserver": "/readyz", "scheduler": "/healthz", "controller-manager": "/healthz"}


def kubeadm_form(args: list[str]) -> list[str]:
    """`--flag value` pairs as `--flag=value`, the form kubeadm writes into its manifests (the same
    command line: every kubeling component parses both forms)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and "=" not in a and i + 1 < len(args) and not args[i + 1].startswith("-"):
            out.append(f"{a}={args[i + 1]}")
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def _probe(scheme: str, host: str, port: int, path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"host": host, "path": path, "port": port, "scheme": scheme},
            "periodSeconds": period, "failureThreshold": failures, "timeoutSeconds": 15}


def static_pod(comp: Component, cdir: ClusterDir) -> dict[str, Any]:
    """The static pod manifest of one control-plane component (a dict, ready for YAML)."""
    binary, cpu, live_path = BINARIES[comp.kind]
    health = urlsplit(comp.health_url)
    host, port, scheme = health.hostname or "127.0.0.1", health.port or 80, (health.scheme or "http").upper()
    liveness = _probe(scheme, host, port, live_path, 10, 8) | {"initialDelaySeconds": 10}
    container: dict[str, Any] = {
        "name": binary,
        "image": control_plane_image(binary),
        "imagePullPolicy": "IfNotPresent",
        "command": [binary, *kubeadm_form(comp.args[1:])],
        "resources": {"requests": {"cpu": cpu} | ({"memory": "100Mi"} if comp.kind == "etcd" else {})},
        "livenessProbe": liveness,
        "readinessProbe": _probe(scheme, host, port, READY_PATH[comp.kind], 1, 3),
        "startupProbe": _probe(scheme, host, port, live_path, 10, 24),
    }
    # the container's log is the real process's output (program.py's `_component` follows it)
    container["env"] = [{"name": "KUBELING_LOG_FILE", "value": str(cdir.log_path(comp.name))},
                        # which process this container is, so the kubelet keeps it running (staticproc.py)
                        {"name": "KUBELING_HOME", "value": str(cdir.root.parent)},
                        {"name": "KUBELING_CLUSTER", "value": cdir.name},
                        {"name": "KUBELING_COMPONENT", "value": comp.name}]
    annotations: dict[str, str] = {}
    volumes: list[dict[str, Any]] = []
    if comp.kind == "etcd":
        url = comp.flag("--advertise-client-urls") or comp.flag("--listen-client-urls")
        container["env"] += [{"name": "ETCDCTL_API", "value": "3"}, {"name": "ETCDCTL_ENDPOINTS", "value": url}]
        if comp.flag("--cert-file"):  # the member's own certificate, as kubeadm's etcd pod mounts it
            container["env"] += [{"name": "ETCDCTL_CACERT", "value": comp.flag("--trusted-ca-file")},
                                 {"name": "ETCDCTL_CERT", "value": comp.flag("--cert-file")},
                                 {"name": "ETCDCTL_KEY", "value": comp.flag("--key-file")}]
        annotations["kubeadm.kubernetes.io/etcd.advertise-client-urls"] = url
        data = str(cdir.data_dir(comp.name))
        container["volumeMounts"] = [{"name": "etcd-data", "mountPath": data}]
        volumes.append({"name": "etcd-data", "hostPath": {"path": data, "type": "DirectoryOrCreate"}})
    elif comp.kind == "apiserver":
        annotations["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"] = f"{host}:{port}"
    elif comp.kind in ("scheduler", "controller-manager"):
        kubeconfig = comp.flag("--kubeconfig")
        container["volumeMounts"] = [{"name": "kubeconfig", "mountPath": kubeconfig, "readOnly": True}]
        volumes.append({"name": "kubeconfig", "hostPath": {"path": kubeconfig, "type": "FileOrCreate"}})
    metadata: dict[str, Any] = {"name": comp.name, "namespace": "kube-system",
                                "labels": {"component": binary, "tier": "control-plane"}}
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {"containers": [container], "hostNetwork": True,
                            "priorityClassName": "system-node-critical",
                            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def manifests_dir(cdir: ClusterDir) -> Path:
    return cdir.root / "manifests"


def write_manifests(cdir: ClusterDir, plan: Plan) -> list[Path]:
    """(Re)write one manifest per control-plane component; remove those of components the plan
    no longer has. A file whose content is unchanged is left alone, so its pod keeps running."""
    out = manifests_dir(cdir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for comp in plan.components:
        if comp.kind not in BINARIES or not comp.health_url:
            continue
        path = out / f"{comp.name}.yaml"
        text = yaml.safe_dump(static_pod(comp, cdir), sort_keys=False)
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")  # the agent reads *.yaml only: never a half-written file
            tmp.write_text(text)
            tmp.replace(path)
        written.append(path)
    for stale in set(out.glob("*.yaml")) - set(written):
        stale.unlink()
    return written
