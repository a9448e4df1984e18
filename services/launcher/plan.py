"""What `kubeling up` runs: the component list and every command line, decided once per cluster.

Addresses follow one plan for a whole machine, so every address says what it is: node IPs
127.0.1.N, pod CIDRs 127.244.N.0/24 (cluster CIDR 127.244.0.0/20), Services from 127.96.0.0/20.
Several clusters can run on one machine: each takes the first free *address block* k, i.e. node
IPs 127.0.(1+k).N, pods in 127.244.16k.0/20, Services in 127.96.16k.0/20, so their node agents
never fight over the same addresses. Ports are the usual ones (6443, 2379/2380, ...) when free,
otherwise any free loopback port. "Free" is machine-wide (reserve.py): not in another cluster's
plan, whatever its KUBELING_HOME, and bindable now. Everything is recorded in the plan, so a
cluster keeps its addresses and ports across down/up.
"""
from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubeling.cli import COMMANDS
from kubeling.shared import flags

from .manifests import CONTROL_PLANE_NODE, ROLE, manifests_dir
from .security import ADMIN, ClusterCredentials, ensure_peer_secret
from .state import ClusterDir, Component, Plan

LOOPBACK = "127.0.0.1"
NODE_PORT_RANGE = "30000-32767"
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248  # upstream kubelet's --healthz-port
MAX_BLOCKS = 16
MAX_NODES_PER_BLOCK = 15
CONTROL_PLANE_HOST = 254  # 127.0.1.254: the control-plane node; its pod CIDR is the block's /24 number 0


@dataclass(frozen=True)
class AddressBlock:
    """One cluster's share of 127.0.0.0/8."""

    k: int

    def node_ip(self, i: int) -> str:
        return f"127.0.{1 + self.k}.{i}"

    @property
    def cluster_cidr(self) -> str:
        return f"127.244.{16 * self.k}.0/20"

    @property
    def control_plane_ip(self) -> str:
        """The `controlplane` node's address: outside the worker nodes' 1..MAX_NODES_PER_BLOCK."""
        return self.node_ip(CONTROL_PLANE_HOST)

    def pod_cidr(self, i: int) -> str:
        return f"127.244.{16 * self.k + i}.0/24"

    @property
    def service_range(self) -> str:
        return f"127.96.{16 * self.k}.0/20"


@dataclass(frozen=True)
class Taken:
    """What other clusters on this machine hold (reserve.taken_by_others): address blocks, and the
    (host, port) pairs their components listen on."""

    blocks: frozenset[int] = frozenset()
    addresses: frozenset[tuple[str, int]] = frozenset()


def free_block(nodes: int, taken: Taken = Taken()) -> AddressBlock:
    """The first block no other cluster holds and whose node addresses nobody serves on yet (the
    kubelet's ports are bindable on every node IP the cluster would use)."""
    for k in range(MAX_BLOCKS):
        if k in taken.blocks:
            continue
        block = AddressBlock(k)
        ips = [block.node_ip(i) for i in (*range(1, nodes + 1), CONTROL_PLANE_HOST)]
        if all(port_free(port, ip) for ip in ips for port in (KUBELET_PORT, KUBELET_HEALTHZ_PORT)):
            return block
    raise RuntimeError(f"no free address block for {nodes} nodes among {MAX_BLOCKS} (too many clusters on this "
                       f"machine? `kubeling down --purge` frees a cluster's block)")


def block_of(plan: Plan) -> int:
    return int(plan.settings.get("address_block", 0))


def _hostport(url: str) -> tuple[str, int]:
    u = urlsplit(url)
    return u.hostname or LOOPBACK, int(u.port or 0)


def listen_addresses(comp: Component) -> list[tuple[str, int]]:
    """The (host, port) pairs a component of a plan listens on, read from its command line (so
    plans saved by older versions are read the same way)."""
    if comp.kind == "etcd":
        urls = [u for flag in ("--listen-client-urls", "--listen-peer-urls", "--listen-metrics-urls")
                for u in comp.flag(flag).split(",") if u]
        return [_hostport(u) for u in urls]
    if comp.kind in ("apiserver", "scheduler", "controller-manager"):
        port = comp.flag("--secure-port")
        return [(comp.flag("--bind-address") or LOOPBACK, int(port))] if port else []
    if comp.kind == "node":
        ip = comp.flag("--node-ip")
        out = [(ip, int(comp.flag("--kubelet-port") or comp.flag("--port") or KUBELET_PORT))]
        if comp.flag("--healthz-port"):
            out.append((comp.flag("--healthz-bind-address") or ip, int(comp.flag("--healthz-port"))))
        return out
    return []


@dataclass
class UpOptions:
    name: str = "kubeling"
    nodes: int = 3
    store_members: int = 3
    ha: bool = False
    node_monitor_grace_period: str = "40s"
    node_monitor_period: str = "5s"
    pod_eviction_timeout: str = "5m"
    tls: bool = True


def port_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


class PortPicker:
    """The preferred loopback port when it is free (bindable, and neither in this plan nor in
    another cluster's), else a free one the kernel hands out that is in neither either."""

    def __init__(self, taken: Taken = Taken()) -> None:
        self.taken: set[int] = {port for host, port in taken.addresses if host in (LOOPBACK, "0.0.0.0")}

    def _usable(self, port: int) -> bool:
        return port not in self.taken and port_free(port)

    def pick(self, preferred: int) -> int:
        port = preferred
        while not self._usable(port):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((LOOPBACK, 0))
                port = s.getsockname()[1]
        self.taken.add(port)
        return port


def available(kind: str) -> bool:
    """Components are run only once their command exists in this build of kubeling."""
    return kind in COMMANDS


def make_plan(opts: UpOptions, cdir: ClusterDir, taken: Taken = Taken()) -> Plan:
    """Every component's command line, on addresses other clusters do not hold (`taken`). With
    `opts.tls` the cluster is kubeadm's secure default (security.py): HTTPS everywhere, a store
    that admits only certificate holders, Node,RBAC authorization with one identity per
    component; without it, plain HTTP and no authorization. Either way the store members
    authenticate Raft messages with the cluster's own random peer secret."""
    if not 1 <= opts.nodes <= MAX_NODES_PER_BLOCK:
        raise ValueError(f"--nodes must be between 1 and {MAX_NODES_PER_BLOCK}")
    ports = PortPicker(taken)
    block = free_block(opts.nodes, taken)
    plan = Plan(name=opts.name, settings=vars(opts) | {"address_block": block.k})
    creds = ClusterCredentials(cdir.root) if opts.tls else None
    scheme = "https" if creds else "http"
    if creds:
        idents = [ADMIN, "scheduler", "controller-manager", f"kubelet-{CONTROL_PLANE_NODE}",
                  *(f"kubelet-node-{i}" for i in range(1, opts.nodes + 1))]
        creds.ensure((LOOPBACK,), idents)
    # --- store
    peer_secret = ensure_peer_secret(cdir.root)
    members = [(f"etcd-{i}", ports.pick(2379 + 2 * i), ports.pick(2380 + 2 * i), ports.pick(2391 + i))
               for i in range(opts.store_members)]
    initial = ",".join(f"{n}={scheme}://{LOOPBACK}:{peer}" for n, _, peer, _ in members)
    for name, client, peer, metrics in members:
        url = f"{scheme}://{LOOPBACK}:{client}"
        peer_url = f"{scheme}://{LOOPBACK}:{peer}"
        plan.store_urls.append(url)
        plan.components.append(Component(name, "etcd", [
            "etcd", "--name", name, "--data-dir", str(cdir.data_dir(name)),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", initial, "--initial-cluster-token", f"kubeling-{opts.name}",
            "--peer-secret-file", str(peer_secret),
            "--initial-cluster-state", "new", "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
            "--listen-metrics-urls", f"http://{LOOPBACK}:{metrics}", *(creds.etcd_args() if creds else []),
        ], health_url=f"http://{LOOPBACK}:{metrics}/health"))
    # --- control plane
    replicas = 2 if opts.ha else 1
    for i in range(replicas):
        port = ports.pick(6443 + i)
        url = f"{scheme}://{LOOPBACK}:{port}"
        plan.api_url = plan.api_url or url
        plan.components.append(Component(f"kube-apiserver-{i}", "apiserver", [
            "apiserver", f"--etcd-servers={','.join(plan.store_urls)}", "--bind-address", LOOPBACK,
            "--secure-port", str(port), "--service-cluster-ip-range", block.service_range,
            "--service-node-port-range", NODE_PORT_RANGE,
            *((creds.apiserver_args() + creds.kubelet_apiserver_args()) if creds else []),
        ], health_url=url + "/readyz"))
    if available("scheduler"):
        for i in range(replicas):
            port = ports.pick(10259 + 100 * i)
            plan.components.append(Component(f"kube-scheduler-{i}", "scheduler", [
                "scheduler", "--kubeconfig", kubeconfig_for(cdir, creds, "scheduler"), "--leader-elect",
                "--bind-address", LOOPBACK, "--secure-port", str(port)], health_url=f"http://{LOOPBACK}:{port}/healthz"))
    if available("controller-manager"):
        for i in range(replicas):
            port = ports.pick(10257 + 100 * i)
            plan.components.append(Component(f"kube-controller-manager-{i}", "controller-manager", [
                "controller-manager", "--kubeconfig", kubeconfig_for(cdir, creds, "controller-manager"), "--leader-elect",
                "--bind-address", LOOPBACK, "--secure-port", str(port),
                "--cluster-cidr", block.cluster_cidr, "--node-monitor-period", opts.node_monitor_period,
                "--node-monitor-grace-period", opts.node_monitor_grace_period,
                "--pod-eviction-timeout", opts.pod_eviction_timeout], health_url=f"http://{LOOPBACK}:{port}/healthz"))
    if available("node"):
        add_nodes(plan, opts, block, cdir, creds)
    return plan


def describe_addresses(plan: Plan) -> str:
    """Which block and ports a cluster uses, as `kubeling up` prints them."""
    block = AddressBlock(block_of(plan))
    loopback = [f"{c.name} {'/'.join(str(p) for h, p in listen_addresses(c) if h == LOOPBACK)}"
                for c in plan.components if c.kind != "node"]
    return (f"Address block {block.k}: nodes {block.node_ip(0)[:-1]}N (controlplane {block.control_plane_ip}), "
            f"pods {block.cluster_cidr}, Services {block.service_range}\n"
            f"Ports on {LOOPBACK}: {', '.join(loopback)}")


def kubeconfig_for(cdir: ClusterDir, creds: ClusterCredentials | None, identity: str) -> str:
    """The component's own kubeconfig (its own identity) when secured; else the shared one."""
    return str(creds.kubeconfig(identity) if creds else cdir.kubeconfig)


def add_nodes(plan: Plan, opts: UpOptions, block: AddressBlock, cdir: ClusterDir,
              creds: ClusterCredentials | None = None) -> None:
    """The `controlplane` node, which runs the control plane's static pods (manifests.py) and is
    tainted as kubeadm taints it, then node-1..N for the workloads. Its control-plane role label
    is not a kubelet flag: upstream's kubelet may not set node-role labels (NodeRestriction), so
    the launcher labels the node once it registered, as kubeadm's mark-control-plane phase does."""
    # Upstream renews node leases every quarter of their duration; a drill that shortens the
    # grace period (say 4s) needs heartbeats that often too, or healthy nodes would flap.
    heartbeat = min(10.0, max(0.5, flags.duration(opts.node_monitor_grace_period) / 4))
    nodes = [(CONTROL_PLANE_NODE, block.control_plane_ip, block.pod_cidr(0))]
    nodes += [(f"node-{i}", block.node_ip(i), block.pod_cidr(i)) for i in range(1, opts.nodes + 1)]
    for name, ip, cidr in nodes:
        plan.node_ips[name] = ip
        args = ["node", "--node-name", name, "--kubeconfig", kubeconfig_for(cdir, creds, f"kubelet-{name}"),
                "--node-ip", ip, "--pod-cidr", cidr, "--node-status-update-frequency", f"{heartbeat:g}"]
        if name == CONTROL_PLANE_NODE:
            args += ["--pod-manifest-path", str(manifests_dir(cdir)), "--file-check-frequency", "2s",
                     "--register-with-taints", f"{ROLE}:NoSchedule"]
        if creds:  # the kubelet API over HTTPS for the apiserver only; /healthz stays plain on its own port
            args += creds.kubelet_args(name, ip, healthz_port=KUBELET_HEALTHZ_PORT)
            health = f"http://{ip}:{KUBELET_HEALTHZ_PORT}/healthz"
        else:
            health = f"http://{ip}:{KUBELET_PORT}/healthz"
        plan.components.append(Component(name, "node", args, health_url=health))


def kubeconfig_yaml(plan: Plan) -> str:
    """A kubeconfig for kubectl and the components (plain HTTP until TLS lands)."""
    name = json.dumps(plan.name)  # quoted: kubectl's YAML reads a bare `y`, `on` or `no` as a boolean
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {plan.api_url}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: admin
    namespace: default
current-context: {name}
users:
- name: admin
  user: {{}}
"""
