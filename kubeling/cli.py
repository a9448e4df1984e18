"""`kubeling` command: one entry point, one subcommand per component.

Each subcommand lives in its component's package and exposes `main(argv) -> int`; it is imported
only when chosen, so `kubeling etcd` never pays for the apiserver's imports and vice versa.
"""
from __future__ import annotations

import importlib
import sys

# subcommand -> (module[:function], one-line help). The function (default `main`) takes argv and
# parses its own flags.
COMMANDS: dict[str, tuple[str, str]] = {
    "etcd": ("kubeling.services.etcd.main", "run one member of the Raft-replicated, etcd-compatible store"),
    "etcdctl": ("kubeling.services.etcd.etcdctl", "etcdctl-style client for kubeling's store or a real etcd"),
    "apiserver": ("kubeling.services.apiserver.main", "serve the Kubernetes REST API over the store"),
    "scheduler": ("kubeling.services.scheduler.main", "watch unscheduled pods, filter and score nodes, bind"),
    "node": ("kubeling.services.node.main", "node agent: register a Node, run its pods in a fake runtime, serve logs"),
    "controller-manager": ("kubeling.services.controller_manager.main", "node lifecycle and IPAM, ReplicaSets, Deployments, endpoints, namespaces, GC ... in one process"),
    "proxy-rules": ("kubeling.services.node.proxy.show", "print a node's kube-proxy rules in iptables-save form"),
    "crictl": ("kubeling.services.node.crictl", "inspect a node's fake container runtime (ps, pods, images, inspect, logs)"),
    "up": ("kubeling.services.launcher.commands:up", "run a whole cluster on this machine (no Docker, no root)"),
    "down": ("kubeling.services.launcher.commands:down", "stop a cluster started with `up`"),
    "status": ("kubeling.services.launcher.commands:status", "components, Raft leader, nodes and pods of a cluster"),
    "kubeconfig": ("kubeling.services.launcher.commands:kubeconfig", "print the path of a cluster's kubeconfig"),
    "logs": ("kubeling.services.launcher.commands:logs", "show a component's log"),
    "kill": ("kubeling.services.launcher.commands:kill", "SIGKILL one component (failure drill)"),
    "start": ("kubeling.services.launcher.commands:start", "start one component again"),
    "restart": ("kubeling.services.launcher.commands:restart", "restart one component"),
    "certs": ("kubeling.services.launcher.certs", "write a cluster's CA, certificates, tokens and a kubeconfig per component (kubeadm's certs and kubeconfig phases)"),
    "demo": ("kubeling.services.launcher.demo:main", "failure drills on a running cluster (`demo failover`)"),
}


# Modules that third-party packages import only because something optional happens to be installed,
# and that a kubeling command does not use. Every process pays for them (a cluster is ten
# processes), so they are kept out: an import of one raises ImportError, which those packages
# handle. Measured in bench/RESULTS.md, "kubeling up (issue 6)".
# - httpx's command-line client (click, rich, pygments: ~5 MB per process);
# - uvicorn's --reload watcher (watchfiles);
# - httpcore's trio backend (trio and attrs, ~4 MB, when some other tool installed trio).
UNUSED_IMPORTS: tuple[str, ...] = ("httpx._main", "watchfiles", "trio")
# Per command: pysyncobj imports `cryptography` for its Fernet password layer whenever it is
# installed (the apiserver needs it), but store members authenticate peers with the standard
# library (services/etcd/raftauth.py): 7.5 MB per member.
UNUSED_BY_COMMAND: dict[str, tuple[str, ...]] = {"etcd": ("cryptography",)}


def usage() -> str:
    lines = ["usage: kubeling COMMAND [flags]", "", "commands:"]
    width = max(len(c) for c in COMMANDS)
    for name, (_, text) in COMMANDS.items():
        lines.append(f"  {name.ljust(width)}  {text}")
    lines += ["", "Run 'kubeling COMMAND --help' for a command's flags."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("--version", "version"):
        from kubeling import __version__

        print(f"kubeling {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"kubeling: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    for unused in UNUSED_IMPORTS + UNUSED_BY_COMMAND.get(name, ()):
        sys.modules.setdefault(unused, None)  # type: ignore[assignment]
    module_name, _, func = COMMANDS[name][0].partition(":")
    module = importlib.import_module(module_name)
    return int(getattr(module, func or "main")(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
