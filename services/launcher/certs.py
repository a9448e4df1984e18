"""`kubeling certs`: a cluster's credentials for machines `kubeling up` does not start itself.

What kubeadm's `init phase certs all` and `init phase kubeconfig all` do, for a cluster whose
components run elsewhere (the `docker compose` cluster runs it as a one-shot init service, which
hands each other service a read-only volume with its own share, see `--export`):

    kubeling certs --dir /etc/kubeling --cluster-name kubeling-compose \\
        --server https://apiserver:6443 --hosts apiserver,etcd-0,10.240.0.2,10.240.0.10 \\
        --nodes node-1=10.240.0.21,node-2=10.240.0.22 \\
        --admin-kubeconfig /out/kubeconfig --admin-server https://127.0.0.1:6443 \\
        --export kubelet-node-1=/export/node-1

It lays out `DIR/pki` with `ClusterCredentials` (security.py: the CA, the apiserver's and the
store's serving certificates for `--hosts`, the store's client certificates, the apiserver's
kubelet client certificate, a serving certificate per node, the ServiceAccount key pair, the token
file with one identity per component, the encryption config, the store's Raft peer secret) and one kubeconfig per identity:
`DIR/kubeconfig` (kubernetes-admin), `DIR/kubeconfigs/{scheduler,controller-manager,kubelet-<node>}.conf`.

`--export COMPONENT=DIR` (repeatable) copies to DIR, in the same layout, only the files that
component's flags name, as kubeadm leaves on each machine only what runs there: `etcd` (its
serving and peer certificates, the CA, healthcheck-client for etcdctl, and the Raft peer secret
`pki/etcd-peer-secret`), `apiserver` (its certificates,
tokens, ServiceAccount keys, encryption config, store and kubelet client certificates; not the
CA key, not the admin's), `scheduler` and `controller-manager` (their kubeconfig), `kubelet-<node>`
(its kubeconfig, its serving certificate, the CA). Mounted at DIR's place, each container sees the
paths `ClusterCredentials` gives for DIR and nothing more.

Running it again keeps every key, certificate and token (a restarted cluster keeps its
credentials and can still decrypt its Secrets) and rewrites a kubeconfig only when its content
changes (say, another `--admin-server` port). A serving certificate that does not cover a
`--hosts` entry any more is issued again, as `ensure_kubelet_serving` does for a moved node.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from .security import (
    ADMIN,
    ClusterCredentials,
    _san_addresses,
    identity,
    kubeconfig_yaml,
)

COMPONENTS = ("scheduler", "controller-manager")
SERVING = ("apiserver", "etcd-server", "etcd-peer")  # the serving certificates whose SANs are --hosts


def parse_nodes(value: str) -> dict[str, str]:
    """`node-1=10.240.0.21,node-2=...` -> {node: ip}; each node needs its address for the SAN of
    its kubelet serving certificate (the apiserver dials the node's InternalIP)."""
    nodes: dict[str, str] = {}
    for item in filter(None, (v.strip() for v in value.split(","))):
        name, sep, ip = item.partition("=")
        if not sep or not name or not ip:
            raise argparse.ArgumentTypeError(f"expected NODE=IP, got {item!r}")
        nodes[name] = ip
    return nodes


def parse_exports(value: str) -> tuple[str, Path]:
    name, sep, directory = value.partition("=")
    if not sep or not name or not directory:
        raise argparse.ArgumentTypeError(f"expected COMPONENT=DIR, got {value!r}")
    return name, Path(directory)


def parse_hosts(value: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in value.split(",") if h.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeling certs", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", required=True, type=Path,
                   help="where to write pki/ and the kubeconfigs (kubeadm's /etc/kubernetes)")
    p.add_argument("--cluster-name", default="kubernetes", help="the cluster's name in the kubeconfigs")
    p.add_argument("--server", required=True,
                   help="the apiserver URL the components use, e.g. https://apiserver:6443 (kubeadm's --control-plane-endpoint)")
    p.add_argument("--hosts", type=parse_hosts, default=(),
                   help="extra names and addresses of the apiserver and the store members, comma-separated "
                        "(kubeadm's --apiserver-cert-extra-sans); 127.0.0.1, localhost and kubernetes.default.svc... are always in")
    p.add_argument("--nodes", type=parse_nodes, default={},
                   help="NODE=IP,...: a kubelet identity, kubeconfig and serving certificate per node")
    p.add_argument("--admin-kubeconfig", type=Path,
                   help="also write kubernetes-admin's kubeconfig here, and the CA as ca.crt beside it "
                        "(e.g. a directory shared with the host)")
    p.add_argument("--admin-server", help="the apiserver URL in --admin-kubeconfig (default: --server), "
                                          "e.g. the port the host publishes")
    p.add_argument("--export", type=parse_exports, action="append", default=[], metavar="COMPONENT=DIR",
                   help="copy only what COMPONENT (etcd, apiserver, scheduler, controller-manager, kubelet-<node>) "
                        "needs to DIR, same layout; repeatable")
    return p


def bundle(creds: ClusterCredentials, component: str, nodes: dict[str, str]) -> list[Path]:
    """The files `component` reads: those its ClusterCredentials flags name, and its kubeconfig."""
    root = creds.root.resolve()

    def named(args: list[str]) -> list[Path]:
        return [Path(a) for a in args if Path(a).is_absolute() and Path(a).resolve().is_relative_to(root)]

    if component == "etcd":  # + the Raft peer secret, which its --peer-secret-file names
        return named(creds.etcd_args()) + [Path(p) for p in creds.store_client()[1]] + [creds.peer_secret]
    if component == "apiserver":
        return named(creds.apiserver_args() + creds.kubelet_apiserver_args())
    if component in COMPONENTS:
        return [creds.kubeconfig(component)]
    node = component.removeprefix("kubelet-")
    if component.startswith("kubelet-") and node in nodes:
        return [creds.kubeconfig(component), *named(creds.kubelet_args(node, nodes[node]))]
    raise SystemExit(f"kubeling certs: --export {component}: not etcd, apiserver, scheduler, "
                     f"controller-manager or kubelet-<node> of --nodes")


def export(creds: ClusterCredentials, component: str, target: Path, nodes: dict[str, str]) -> None:
    """Copy `component`'s files to `target` in the same layout, keeping their modes; files that
    are already identical are left alone."""
    root = creds.root.resolve()
    for src in dict.fromkeys(bundle(creds, component, nodes)):
        dst = target / src.resolve().relative_to(root)
        if dst.exists() and dst.read_bytes() == src.read_bytes():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        copy_private(src, dst)


def copy_private(src: Path, dst: Path) -> None:
    """Copy `src` over `dst` with `src`'s mode from the first byte on (a key or the peer secret is
    never, even for a moment, readable by others, as a copy-then-chmod would leave it), through a
    temporary file renamed into place."""
    mode = src.stat().st_mode & 0o777
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(src.read_bytes())
        os.chmod(tmp, mode)  # the umask may have taken bits away; it never adds any
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def write_if_changed(path: Path, text: str) -> bool:
    """Write a private file (0600) unless it already holds `text`; True when written."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    return True


def forget_stale_serving(creds: ClusterCredentials, hosts: tuple[str, ...]) -> list[str]:
    """Remove serving certificates that miss one of `hosts`, so `ensure` issues them again with
    the same CA (the keys of every other certificate, and the CA, stay)."""
    stale = []
    for stem in SERVING:
        crt = creds.cert(stem)
        if crt.exists() and not set(hosts) <= _san_addresses(crt.read_bytes()):
            crt.unlink()
            creds.key(stem).unlink(missing_ok=True)
            stale.append(stem)
    return stale


def run(args: argparse.Namespace) -> list[Path]:
    """Make whatever is missing; return the kubeconfigs written (or rewritten) this time."""
    creds = ClusterCredentials(args.dir)
    identities = [ADMIN, *COMPONENTS, *(f"kubelet-{node}" for node in args.nodes)]
    forget_stale_serving(creds, args.hosts)
    creds.ensure(args.hosts, identities)
    for node, ip in args.nodes.items():
        creds.ensure_kubelet_serving(node, ip)
    tokens = creds.read_tokens()
    ca = creds.ca.read_bytes()
    written = []
    for key in identities:
        text = kubeconfig_yaml(args.cluster_name, args.server, ca, identity(key).user, tokens[key])
        if write_if_changed(creds.kubeconfig(key), text):
            written.append(creds.kubeconfig(key))
    if args.admin_kubeconfig:
        text = kubeconfig_yaml(args.cluster_name, args.admin_server or args.server, ca, identity(ADMIN).user, tokens[ADMIN])
        if write_if_changed(args.admin_kubeconfig, text):
            written.append(args.admin_kubeconfig)
        # The CA beside it, public, for `curl --cacert` (the kubeconfig carries it too, as data).
        ca_copy = args.admin_kubeconfig.parent / "ca.crt"
        if not ca_copy.exists() or ca_copy.read_bytes() != ca:
            ca_copy.write_bytes(ca)
            ca_copy.chmod(0o644)
        # The admin's credentials are private (0600), but to the person who made the directory
        # (e.g. the host user who ran `mkdir .kubeling-compose`), not to root in a container.
        owner = args.admin_kubeconfig.parent.stat()
        if (owner.st_uid, owner.st_gid) != (os.getuid(), os.getgid()) and os.getuid() == 0:
            for path in (args.admin_kubeconfig, ca_copy):
                os.chown(path, owner.st_uid, owner.st_gid)
    for component, target in args.export:
        export(creds, component, target, args.nodes)
    return written


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    written = run(args)
    creds = ClusterCredentials(args.dir)
    print(f"[certs] CA and keys in {creds.pki} (made once, kept)")
    for path in written:
        print(f"[kubeconfig] wrote {path}")
    if args.admin_kubeconfig:
        print(f"[kubeconfig] kubernetes-admin: {args.admin_kubeconfig} (server {args.admin_server or args.server})")
    return 0
