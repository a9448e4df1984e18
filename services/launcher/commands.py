"""`kubeling up / down / status / kubeconfig / logs / kill / start / restart`: a whole cluster on
this machine's loopback, as separate processes, no Docker and no root.

Each function is the `main(argv)` of one subcommand (see kubeling/cli.py).
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time

import httpx

from . import procs, reserve
from kubeling.shared.flags import boolean

from .health import api_client, client, collect, credentials
from .manifests import CONTROL_PLANE_NODE, ROLE, write_manifests
from .plan import UpOptions, describe_addresses, kubeconfig_yaml, make_plan
from .security import ensure_peer_secret
from .state import ClusterDir, Plan, known_clusters

DEFAULT_NAME = "kubeling"


def _default_name() -> str:
    names = known_clusters()
    return names[0] if len(names) == 1 else DEFAULT_NAME


def _name_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default=None, help="cluster name (default: the only cluster, else 'kubeling')")


def _load(name: str | None) -> tuple[ClusterDir, Plan]:
    cdir = ClusterDir(name or _default_name())
    if not cdir.exists():
        raise SystemExit(f"kubeling: no cluster named {cdir.name!r} (run `kubeling up --name {cdir.name}`)")
    return cdir, cdir.load()


def _wait(cond, timeout: float, what: str) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    print(f"kubeling: timed out after {timeout:.0f}s waiting for {what}", file=sys.stderr)
    return False


def _healthy(url: str) -> bool:
    return client().get(url, timeout=1.0).status_code == 200


def _nodes_ready(cdir: ClusterDir, plan: Plan) -> bool:
    want = set(plan.node_ips)
    items = api_client(cdir, plan).get(plan.api_url + "/api/v1/nodes", timeout=2.0).json().get("items", [])
    ready = {n["metadata"]["name"] for n in items
             if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))}
    return want <= ready


def _api_serving(cdir: ClusterDir, plan: Plan) -> bool:
    """The apiserver answers from the store (it bootstraps kube-system once the store is up)."""
    return api_client(cdir, plan).get(plan.api_url + "/api/v1/namespaces/kube-system", timeout=2.0).status_code == 200


def _mark_control_plane(cdir: ClusterDir, plan: Plan) -> bool:
    """kubeadm's mark-control-plane phase: the role label (and the load-balancer exclusion) are
    set by an administrator, never by the node itself."""
    labels = {ROLE: "", "node.kubernetes.io/exclude-from-external-load-balancers": ""}
    r = api_client(cdir, plan).patch(plan.api_url + f"/api/v1/nodes/{CONTROL_PLANE_NODE}",
                                     json={"metadata": {"labels": labels}},
                                     headers={"Content-Type": "application/merge-patch+json"}, timeout=5.0)
    return r.status_code == 200


def write_kubeconfigs(cdir: ClusterDir, plan: Plan) -> None:
    """kubectl's kubeconfig (kubernetes-admin) and, when secured, one per component identity."""
    creds = credentials(cdir, plan)
    if creds is None:
        cdir.kubeconfig.write_text(kubeconfig_yaml(plan))
        return
    for identity in creds.read_tokens():
        creds.write_kubeconfig(identity, plan.name, plan.api_url)


def bring_up(cdir: ClusterDir, plan: Plan, timeout: float = 60.0) -> bool:
    """Start everything in dependency order and wait until it serves. True when all is up.

    The apiservers start together with the store members (they wait for the store themselves),
    so their start-up overlaps the store's first election; the API clients (scheduler,
    controller-manager, node agents) start once the store has a leader, so their imports overlap
    the apiserver's start-up (they retry until it serves, as against any restarting apiserver)."""
    write_kubeconfigs(cdir, plan)
    if CONTROL_PLANE_NODE in plan.node_ips:
        write_manifests(cdir, plan)
    for comp in plan.of_kind("etcd") + plan.of_kind("apiserver"):
        procs.start(cdir, comp)
    ok = all(_wait(lambda c=c: _healthy(c.health_url), timeout, f"{c.name} healthy") for c in plan.of_kind("etcd"))
    for kind in ("scheduler", "controller-manager", "node"):
        for comp in plan.of_kind(kind):
            procs.start(cdir, comp)
    ok = ok and _wait(lambda: _api_serving(cdir, plan), timeout, "the API serving")
    if ok and plan.node_ips:
        ok = _wait(lambda: _nodes_ready(cdir, plan), timeout, "every node Ready")
    if ok and CONTROL_PLANE_NODE in plan.node_ips:
        ok = _wait(lambda: _mark_control_plane(cdir, plan), timeout, f"the {CONTROL_PLANE_NODE} node labelled")
    return ok


def how_to_use(cdir: ClusterDir, plan: Plan) -> str:
    ip = plan.node_ips.get("node-1") or next(iter(plan.node_ips.values()), "127.0.1.1")
    etcd = plan.of_kind("etcd")
    creds = credentials(cdir, plan)
    cp = ""
    if CONTROL_PLANE_NODE in plan.node_ips and etcd:
        cp = (f"  kubectl get pods -n kube-system -o wide\n"
              f"  kubectl exec -n kube-system {etcd[0].name}-{CONTROL_PLANE_NODE} -- etcdctl get / --prefix --keys-only\n")
    endpoints = ",".join(u.split("//")[1] for u in plan.store_urls)
    if creds:
        endpoints = ",".join(plan.store_urls)  # etcdctl assumes http:// without a scheme  # as on a kubeadm control-plane node: the admin's client certificate, the cluster CA
        pki = creds.pki
        curl = f"curl --cacert {pki}/ca.crt --cert {pki}/admin.crt --key {pki}/admin.key {plan.api_url}/api/v1/namespaces/default/pods"
        etcdctl = (f"kubeling etcdctl --endpoints {endpoints} --cacert {pki}/etcd-ca.crt --cert {pki}/healthcheck-client.crt "
                   f"--key {pki}/healthcheck-client.key get /registry --prefix --keys-only")
        secured = "Secured as kubeadm does: TLS, Node,RBAC, one identity per component, Secrets encrypted at rest.\n"
    else:
        curl = f"curl {plan.api_url}/api/v1/namespaces/default/pods"
        etcdctl = f"kubeling etcdctl --endpoints {endpoints} get /registry --prefix --keys-only"
        secured = "Plain HTTP, no authentication or authorization (--tls=false).\n"
    return f"""
Cluster '{plan.name}' is up: {len(etcd)} store members, API at {plan.api_url}.
{secured}  export KUBECONFIG={cdir.kubeconfig}
  kubectl get nodes -o wide
{cp}  kubectl run web --image=nginx && kubectl get pods -o wide -w
  kubectl expose pod web --port=80 --type=NodePort && kubectl get svc web
  {curl}
  curl http://{ip}:<nodePort>/
  {etcdctl}
Drills: kubeling kill node-2 | kubeling kill etcd-0 | kubeling start node-2 | kubeling status | kubeling down
"""


def _add_peer_secret(cdir: ClusterDir, plan: Plan) -> bool:
    """Give the store members of a cluster made before peer secrets existed `--peer-secret-file`
    (they authenticated Raft with a key derived from the cluster token, visible in `ps`). All
    members restart with it together (members still running with the old key are stopped first),
    so no two of them ever disagree on the key for long. True when the plan changed."""
    stale = [c for c in plan.of_kind("etcd") if "--peer-secret-file" not in c.args]
    if not stale:
        return False
    procs.stop(cdir, [c for c in stale if procs.running_pid(cdir, c)])
    secret = ensure_peer_secret(cdir.root)
    for comp in stale:
        comp.args += ["--peer-secret-file", str(secret)]
    cdir.save(plan)
    print(f"Store members now authenticate Raft messages with {secret} (random, made for this cluster).")
    return True


def _reserve(cdir: ClusterDir, args: argparse.Namespace) -> Plan:
    """The cluster's plan, on addresses no other cluster on this machine holds: a new one chosen,
    or the recorded one checked (reserve.py). Raises ReservationError with the reason it cannot start."""
    with reserve.machine_lock():
        taken = reserve.taken_by_others(cdir)
        if cdir.exists():
            plan = cdir.load()
            running = {c.name for c in plan.components if procs.running_pid(cdir, c)}
            if running and running == {c.name for c in plan.components}:
                raise reserve.ReservationError(f"cluster '{plan.name}' is already running (`kubeling status "
                                               f"--name {plan.name}`; `kubeling down --name {plan.name}` stops it)")
            if _add_peer_secret(cdir, plan):
                running = {c.name for c in plan.components if procs.running_pid(cdir, c)}
            found = reserve.conflicts(plan, taken, running)
            if found:
                raise reserve.ReservationError(
                    f"cluster '{plan.name}' cannot start on its recorded addresses; nothing was started:\n  "
                    + "\n  ".join(found) + f"\nStop what holds them, or `kubeling down --purge --name {plan.name}` "
                    f"and `kubeling up` again for new ones.")
            print(f"Reusing cluster '{plan.name}' from {cdir.root} (its data, ports and size are kept).")
        else:
            opts = UpOptions(args.name, args.nodes, args.store_members, args.ha, args.node_monitor_grace_period,
                             args.node_monitor_period, args.pod_eviction_timeout, tls=args.tls)
            try:
                plan = make_plan(opts, cdir, taken)
            except (RuntimeError, ValueError) as e:
                raise reserve.ReservationError(str(e)) from None
            cdir.save(plan)
        reserve.record(cdir)
    print(describe_addresses(plan))
    return plan


def up(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling up", description="Start a whole cluster on this machine's loopback: "
                                "store members, apiserver, scheduler, controller-manager and node agents, each its own "
                                "process. Shows a live status view until Ctrl-C, which stops it (-d: run detached).")
    p.add_argument("--name", default=DEFAULT_NAME, help="cluster name; `up` again with the same name keeps its data")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--store-members", type=int, default=3)
    p.add_argument("--ha", action="store_true", help="two apiservers, schedulers and controller-managers")
    p.add_argument("-d", "--detach", action="store_true", help="start it and return; stop it with `kubeling down`")
    p.add_argument("--node-monitor-period", default="5s")
    p.add_argument("--node-monitor-grace-period", default="40s", help="e.g. 4s for failover drills")
    p.add_argument("--pod-eviction-timeout", default="5m", help="e.g. 5s for failover drills")
    p.add_argument("--tls", type=boolean, nargs="?", const=True, default=True, metavar="BOOL",
                   help="secure the cluster as kubeadm does: a cluster CA, HTTPS for the API, the store and the "
                        "kubelets, a store that admits only the apiserver, Node,RBAC authorization with one identity "
                        "per component, ServiceAccount tokens, Secrets encrypted at rest (--tls=false: plain HTTP, "
                        "no authentication)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each stage")
    args = p.parse_args(argv)
    cdir = ClusterDir(args.name)
    try:
        # Held until this `up` ends (with -d: once the cluster is up; else when the live view stops
        # it): a second `up` of this cluster meanwhile refuses instead of starting a second copy.
        with reserve.cluster_lock(cdir):
            return _up(cdir, args)
    except (reserve.ClusterBusy, reserve.ReservationError) as e:
        print(f"kubeling: {e}", file=sys.stderr)
        return 1


def _up(cdir: ClusterDir, args: argparse.Namespace) -> int:
    plan = _reserve(cdir, args)
    t0 = time.monotonic()
    ok = bring_up(cdir, plan, args.timeout)
    took = time.monotonic() - t0
    if not ok:
        print(f"kubeling: the cluster did not come up; see `kubeling logs <component> --name {args.name}` "
              f"(logs in {cdir.root / 'logs'})", file=sys.stderr)
        if not args.detach:
            procs.stop(cdir, list(reversed(plan.components)))
        return 1
    print(how_to_use(cdir, plan) + f"(up in {took:.1f}s)")
    if args.detach:
        return 0
    return _live(cdir, plan)


def _live(cdir: ClusterDir, plan: Plan) -> int:
    from rich.live import Live

    from .view import render

    stop = {"now": False}

    def on_signal(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        with Live(render(plan.name, collect(cdir, plan)), refresh_per_second=2, screen=False) as live:
            while not stop["now"]:
                time.sleep(1.0)
                live.update(render(plan.name, collect(cdir, plan)))
    except KeyboardInterrupt:
        pass
    print("\nStopping the cluster ...")
    procs.stop(cdir, list(reversed(plan.components)))
    return 0


def down(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling down", description="Stop every component of a cluster (SIGTERM, "
                                "then SIGKILL after a grace period). Its data stays unless --purge.")
    _name_arg(p)
    p.add_argument("--purge", action="store_true", help="also delete the cluster's directory (data, logs, kubeconfig)")
    args = p.parse_args(argv)
    cdir, plan = _load(args.name)
    procs.stop(cdir, list(reversed(plan.components)))
    if args.purge:
        import shutil

        shutil.rmtree(cdir.root)
        reserve.forget(cdir)
    print(f"Cluster '{plan.name}' stopped" + (" and deleted." if args.purge else f"; data kept in {cdir.root}."))
    return 0


def status(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling status", description="Components and their health, the store's "
                                "Raft leader and term, nodes and their pods.")
    _name_arg(p)
    p.add_argument("-o", "--output", choices=["table", "json"], default="table")
    args = p.parse_args(argv)
    cdir, plan = _load(args.name)
    st = collect(cdir, plan)
    if args.output == "json":
        print(json.dumps({"name": plan.name, "api": plan.api_url, "kubeconfig": str(cdir.kubeconfig),
                          **st.to_json()}, indent=1))
    else:
        from rich.console import Console

        from .view import render

        Console().print(render(plan.name, st))
    return 0 if all(c.pid for c in st.components) else 3


def kubeconfig(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling kubeconfig", description="Print the path of the cluster's kubeconfig.")
    _name_arg(p)
    args = p.parse_args(argv)
    cdir, _ = _load(args.name)
    print(cdir.kubeconfig)
    return 0


def logs(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling logs", description="Show a component's log (etcd-0, kube-apiserver-0, "
                                "node-1, ...).")
    p.add_argument("component")
    _name_arg(p)
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("--tail", type=int, default=-1)
    args = p.parse_args(argv)
    cdir, plan = _load(args.name)
    plan.get(args.component)  # unknown names fail with the list below
    path = cdir.log_path(args.component)
    cmd = ["tail", "-n", str(args.tail) if args.tail >= 0 else "+1"] + (["-F"] if args.follow else []) + [str(path)]
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0


def _component(argv: list[str], prog: str, description: str):
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("component")
    _name_arg(p)
    args = p.parse_args(argv)
    cdir, plan = _load(args.name)
    try:  # `apiserver-0` is accepted for `kube-apiserver-0`, as the drills in issue 6 spell it
        return cdir, plan, plan.get(args.component)
    except KeyError:
        pass
    try:
        return cdir, plan, plan.get("kube-" + args.component)
    except KeyError:
        names = ", ".join(c.name for c in plan.components)
        raise SystemExit(f"kubeling: no component {args.component!r} in cluster '{plan.name}' ({names})") from None


def kill(argv: list[str]) -> int:
    cdir, plan, comp = _component(argv, "kubeling kill", "SIGKILL one component (a failure drill): etcd-1, node-2, "
                                  "kube-apiserver-0, ...")
    if not procs.kill(cdir, comp):
        print(f"{comp.name} is not running")
        return 1
    print(f"killed {comp.name} (SIGKILL)")
    return 0


def start(argv: list[str]) -> int:
    cdir, plan, comp = _component(argv, "kubeling start", "Start one component again with its recorded command line.")
    pid = procs.start(cdir, comp)
    print(f"{comp.name} running (pid {pid})")
    return 0


def restart(argv: list[str]) -> int:
    cdir, plan, comp = _component(argv, "kubeling restart", "Stop (SIGTERM) and start one component.")
    procs.stop(cdir, [comp])
    pid = procs.start(cdir, comp)
    print(f"{comp.name} restarted (pid {pid})")
    return 0

