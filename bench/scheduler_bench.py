"""Scheduling throughput at 100 and 1,000 nodes (issue 4: 100 pods/s at 1,000 nodes).

  python bench/scheduler_bench.py --nodes 100 --variant hollow --runs 3 --pods 1000
  python bench/scheduler_bench.py --nodes 1000 --variant hollow --agents 4 --runs 3 --pods 1000
  python bench/scheduler_bench.py --nodes 1000 --variant bare --runs 3 --pods 1000
  python bench/scheduler_bench.py ... --baseline <commit>   # also run that commit's scheduler, alternating
  python bench/scheduler_bench.py --cycle-only 1000 300      # the scheduling cycle alone, in-process CPU per pod

As scheduler_perf measures it: a backlog of pending pods is created while no scheduler runs,
then a scheduler process is started and the binds are timed through a pod watch. One cluster
per invocation (`kubeling up -d --nodes 1`, KUBELING_HOME in a temporary directory); its own
scheduler is SIGKILLed (`kubeling kill kube-scheduler-0`) before the first run, and every run
starts `python -m kubeling scheduler --leader-elect=false` itself and stops it by its PID.

Variants (the pods' nodeSelector `scheduler-bench=<variant>` keeps them off the cluster's node-1):
- `hollow`: the nodes are hollow node agents (`kubeling node --hollow-nodes N/agents` x agents),
  which heartbeat, and run every bound pod (status updates and kubelet events): the whole
  cluster works while the scheduler does.
- `bare`: Node objects created through the API, no kubelets, and the controller-manager SIGKILLed
  too (no lease would renew, so node lifecycle would taint them): scheduler_perf's setup, to show
  what the scheduler, apiserver and store do alone.

With --keep-pods the pods of earlier runs stay on their nodes (the next run schedules beside
them, as scheduler_perf's init pods); without it they are force-deleted between runs.

Per run: binds/s from the first to the last bind, the steady-state rate (the middle 80 % of the
binds), the first bind after the scheduler started (informer sync), scheduler CPU per pod, the
CPU the apiserver, store members and hollow agents used meanwhile, the scheduler's own
attempt-duration histogram, and loadavg. Between runs the pods are force-deleted.
Output: `<out>/sched-<variant>-<nodes>.json` (default `bench/results/sched-<UTC time>/`).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from clusters import loadavg, pin_store, sh  # noqa: E402  (bench/ is a folder of scripts, not a package)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc (None once it is gone)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(f[11]) + int(f[12])) / CLK_TCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(*a: str) -> str:
    return sh("git", "-C", str(ROOT), *a).strip()


class Cluster:
    """A `kubeling up` cluster in its own KUBELING_HOME; stops only what it started."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.home = tempfile.mkdtemp(prefix="kubeling-schedbench-")
        self.env = dict(os.environ, KUBELING_HOME=self.home)
        self.agents: list[subprocess.Popen] = []
        self.started = False

    def up(self) -> None:
        self.started = True
        # a generous stage timeout: on a loaded machine node-1 may take more than the default 60 s to be Ready.
        # Plain HTTP (the bench reads the API with urllib, no credentials): --tls=false where `up` has TLS.
        tls = ["--tls=false"] if "--tls" in sh("kubeling", "up", "--help", env=self.env, check=False) else []
        sh("kubeling", "up", "-d", "--name", self.name, "--nodes", "1", "--timeout", "300", *tls, env=self.env, timeout=1300)
        self.kubeconfig = sh("kubeling", "kubeconfig", "--name", self.name, env=self.env).strip().splitlines()[-1]
        self.env["KUBECONFIG"] = self.kubeconfig
        txt = Path(self.kubeconfig).read_text()
        self.api = [ln.split("server:")[1].strip() for ln in txt.splitlines() if "server:" in ln][0].split(",")[0]

    def pids(self) -> dict[str, int]:
        st = json.loads(sh("kubeling", "status", "--name", self.name, "-o", "json", env=self.env, check=False))
        return {c["name"]: c["pid"] for c in st.get("components", []) if c.get("pid")}

    def kill(self, component: str) -> None:
        sh("kubeling", "kill", component, "--name", self.name, env=self.env)

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 60) -> dict:
        req = urllib.request.Request(self.api + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def hollow_agents(self, nodes: int, agents: int) -> None:
        per = [nodes // agents + (1 if i < nodes % agents else 0) for i in range(agents)]
        for j, n in enumerate(per):
            log = open(Path(self.home) / f"hollow-{j}.log", "w")
            self.agents.append(subprocess.Popen(
                ["kubeling", "node", "--node-name", f"sb{j}", "--hollow-nodes", str(n), "--kubeconfig", self.kubeconfig,
                 "--node-ip", f"127.0.77.{j + 1}", "--kubelet-port", str(free_port()),
                 "--cluster-cidr", f"127.{200 + j}.0.0/16", "--node-labels", "scheduler-bench=hollow"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def bare_nodes(self, nodes: int) -> None:
        """Node objects only (scheduler_perf's way): 4 CPUs, 8Gi, 110 pods, Ready."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
        for i in range(nodes):
            name = f"bare-{i}"
            self.request("POST", "/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                      "scheduler-bench": "bare"}},
                "spec": {}, "status": {"capacity": alloc, "allocatable": alloc, "conditions": [
                    {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now,
                     "lastTransitionTime": now}]}})

    def wait_nodes(self, variant: str, n: int, timeout: float) -> float:
        t = time.monotonic()
        ready: list = []
        while time.monotonic() - t < timeout:
            items = self.request("GET", f"/api/v1/nodes?labelSelector=scheduler-bench%3D{variant}")["items"]
            ready = [x for x in items if not any(t_.get("effect") in ("NoSchedule", "NoExecute")
                                                 for t_ in x.get("spec", {}).get("taints") or [])
                     and any(c["type"] == "Ready" and c["status"] == "True" for c in x.get("status", {}).get("conditions", []))]
            if len(ready) >= n:
                return time.monotonic() - t
            for p in self.agents:
                if p.poll() is not None:
                    raise RuntimeError(f"hollow agent {p.pid} exited rc={p.returncode}")
            time.sleep(2)
        raise RuntimeError(f"only {len(ready)}/{n} {variant} nodes Ready and untainted after {timeout}s")

    def down(self) -> None:
        for p in self.agents:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(15)
                except Exception:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except OSError:
                        pass
        if self.started:
            sh("kubeling", "down", "--name", self.name, "--purge", env=self.env, check=False, timeout=180)


class BindWatch(threading.Thread):
    """Monotonic time each pod of a namespace was first seen with spec.nodeName, via a watch."""

    def __init__(self, c: Cluster, ns: str, rv: str) -> None:
        super().__init__(daemon=True)
        self.c, self.ns, self.rv = c, ns, rv
        self.bound: dict[str, float] = {}
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:
                url = (f"{self.c.api}/api/v1/namespaces/{self.ns}/pods?watch=1&resourceVersion={self.rv}"
                       f"&allowWatchBookmarks=true&timeoutSeconds=900")
                with urllib.request.urlopen(url, timeout=960) as r:
                    for line in r:
                        now = time.monotonic()
                        ev = json.loads(line)
                        o = ev.get("object") or {}
                        md = o.get("metadata") or {}
                        self.rv = md.get("resourceVersion", self.rv)
                        if ev.get("type") in ("ADDED", "MODIFIED") and (o.get("spec") or {}).get("nodeName"):
                            self.bound.setdefault(md["name"], now)
                        if self.stop:
                            return
            except (OSError, ValueError, urllib.error.URLError) as e:
                if not self.stop:
                    print("watch:", repr(e), file=sys.stderr)
                    time.sleep(0.2)


def pod_body(name: str, variant: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "scheduler"}},
            "spec": {"nodeSelector": {"scheduler-bench": variant}, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "nginx",
                                     "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}]}}


def create_backlog(c: Cluster, ns: str, n: int, variant: str, threads: int = 16) -> float:
    names = iter(range(n))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                i = next(names, None)
            if i is None:
                return
            try:
                c.request("POST", f"/api/v1/namespaces/{ns}/pods", pod_body(f"p-{i}", variant))
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(repr(e))
    t = time.monotonic()
    ths = [threading.Thread(target=worker) for _ in range(threads)]
    [th.start() for th in ths]
    [th.join() for th in ths]
    if errors:
        raise RuntimeError(f"{len(errors)} creates failed, e.g. {errors[0]}")
    return time.monotonic() - t


def scrape(port: int) -> dict[str, float]:
    """The scheduler's attempt-duration sum and count for `scheduled` attempts."""
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            for ln in r.read().decode().splitlines():
                if ln.startswith("scheduler_scheduling_attempt_duration_seconds_sum{result=\"scheduled\"}"):
                    out["attempt_sum_s"] = float(ln.split()[-1])
                elif ln.startswith("scheduler_scheduling_attempt_duration_seconds_count{result=\"scheduled\"}"):
                    out["attempt_count"] = float(ln.split()[-1])
    except OSError:
        pass
    return out


def ack_rates(log_path: Path) -> dict:
    """The same rates from the scheduler's own `bound` log lines (the bind's answer arrived):
    under load the watch delivers binds in bunches, and this shows the binds themselves."""
    from datetime import datetime
    ts = []
    try:
        for ln in log_path.read_text(errors="replace").splitlines():
            if " bound " in ln:
                ts.append(datetime.fromisoformat(ln[:23]).timestamp())
    except (OSError, ValueError):
        return {}
    ts.sort()
    n = len(ts)
    if n < 2 or ts[-1] == ts[0]:
        return {}
    lo, hi = int(0.1 * (n - 1)), int(0.9 * (n - 1))
    per_s = [0] * (int(ts[-1] - ts[0]) + 1)
    for t in ts:
        per_s[int(t - ts[0])] += 1
    return {"ack_binds": n, "ack_binds_per_s_first_to_last": round((n - 1) / (ts[-1] - ts[0]), 1),
            "ack_binds_per_s_steady_10_90": round((hi - lo) / (ts[hi] - ts[lo]), 1) if ts[hi] > ts[lo] else None,
            "ack_binds_per_second": per_s}


def run_once(c: Cluster, a: argparse.Namespace, r: int, label: str, tree: Path | None) -> dict:
    ns = f"sb-{label}-{r}"
    c.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    create_s = create_backlog(c, ns, a.pods, a.variant)
    rv = c.request("GET", f"/api/v1/namespaces/{ns}/pods?limit=1")["metadata"]["resourceVersion"]
    w = BindWatch(c, ns, rv)
    w.start()
    pids = c.pids()
    watched = {k: v for k, v in pids.items() if k.startswith(("etcd-", "kube-apiserver", "kube-controller"))}
    watched.update({f"hollow-agent-{i}": p.pid for i, p in enumerate(c.agents)})
    cpu0 = {k: cpu_seconds(p) for k, p in watched.items()}
    port = free_port()
    env = dict(c.env)
    cmd = [sys.executable, "-m", "kubeling", "scheduler", "--kubeconfig", c.kubeconfig, "--leader-elect=false",
           "--bind-address", "127.0.0.1", "--secure-port", str(port)]
    if label != "baseline":
        cmd += ["--percentage-of-nodes-to-score", str(a.percentage)]
    cwd = None
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        cwd = str(tree)
    log = open(Path(c.home) / f"scheduler-{label}-{r}.log", "w")
    la0 = loadavg()
    t0 = time.monotonic()
    sched = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    spies = []
    if a.profile:  # py-spy (not a dependency: `pip install py-spy`), collapsed stacks per process
        for who, pid in (("scheduler", sched.pid), ("apiserver", pids.get("kube-apiserver-0"))):
            if pid:
                spies.append(subprocess.Popen(["py-spy", "record", "-p", str(pid), "-r", "50", "-f", "raw", "-o",
                                               str(Path(a.profile) / f"{a.variant}-{a.nodes}-{label}-{r}-{who}.txt")],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    cpu_first = None  # the scheduler's CPU when the first bind shows: start-up and informer sync excluded
    try:
        while len(w.bound) < a.pods and time.monotonic() - t0 < a.timeout:
            if sched.poll() is not None:
                raise RuntimeError(f"scheduler exited rc={sched.returncode}; see {log.name}")
            if cpu_first is None and w.bound:
                cpu_first = cpu_seconds(sched.pid)
            time.sleep(0.05)
        sched_cpu = cpu_seconds(sched.pid)
        cpu1 = {k: cpu_seconds(p) for k, p in watched.items()}
        metrics = scrape(port)
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        if sched.poll() is None:
            os.killpg(sched.pid, signal.SIGTERM)
            try:
                sched.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(sched.pid, signal.SIGKILL)
                sched.wait()
    w.stop = True
    log.close()
    ack = ack_rates(Path(log.name))
    times = sorted(t - t0 for t in w.bound.values())
    n = len(times)
    res: dict = {"run": r, "scheduler": label, "pods": a.pods, "bound": n, "create_backlog_s": round(create_s, 2),
                 "loadavg_start": la0, "loadavg_end": loadavg()}
    if n >= 2:
        first, last = times[0], times[-1]
        lo, hi = times[int(0.1 * (n - 1))], times[int(0.9 * (n - 1))]
        span = last - first
        per_s = [0] * (int(span) + 1)
        for t in times:
            per_s[int(t - first)] += 1
        full = per_s[:-1] if len(per_s) > 1 else per_s
        window = last
        res.update({
            "first_bind_after_start_s": round(first, 2), "last_bind_after_start_s": round(last, 2),
            "binds_per_s_first_to_last": round((n - 1) / span, 1) if span > 0 else None,
            "binds_per_s_steady_10_90": round((int(0.9 * (n - 1)) - int(0.1 * (n - 1))) / (hi - lo), 1) if hi > lo else None,
            "binds_per_s_median_of_seconds": statistics.median(full),
            "binds_per_s_max_second": max(full),
            "scheduler_cpu_s": round(sched_cpu or 0, 2),
            "scheduler_cpu_ms_per_pod": round(1000 * (sched_cpu or 0) / n, 2),
            "scheduler_cpu_ms_per_pod_after_first_bind": round(1000 * ((sched_cpu or 0) - (cpu_first or 0)) / (n - 1), 2),
            "cpu_s_during_run": {k: round((cpu1[k] or 0) - (cpu0[k] or 0), 2) for k in watched
                                 if cpu0.get(k) is not None and cpu1.get(k) is not None},
            "scheduler_start_to_last_bind_s": round(window, 2),
        })
        res.update(ack)
        if metrics.get("attempt_count"):
            res["mean_scheduling_attempt_ms"] = round(1000 * metrics["attempt_sum_s"] / metrics["attempt_count"], 3)
    print(json.dumps(res), flush=True)
    if a.keep_pods:
        return res  # the next run's backlog goes to a fresh namespace; these pods stay on their nodes
    # clean up before the next run: pods force-deleted, then the namespace
    sh("kubectl", "delete", "pods", "--all", "-n", ns, "--grace-period=0", "--force", "--wait=false", env=c.env,
       check=False, timeout=600)
    t = time.monotonic()
    while time.monotonic() - t < 300 and c.request("GET", f"/api/v1/namespaces/{ns}/pods?limit=1")["items"]:
        time.sleep(1)
    sh("kubectl", "delete", "namespace", ns, "--wait=false", env=c.env, check=False)
    return res


def summarize(runs: list[dict], label: str) -> dict:
    rs = [x for x in runs if x["scheduler"] == label and x.get("binds_per_s_first_to_last")]
    keys = ("binds_per_s_first_to_last", "binds_per_s_steady_10_90", "ack_binds_per_s_first_to_last",
            "ack_binds_per_s_steady_10_90", "binds_per_s_median_of_seconds",
            "first_bind_after_start_s", "scheduler_cpu_ms_per_pod", "scheduler_cpu_ms_per_pod_after_first_bind",
            "mean_scheduling_attempt_ms")
    return {k: statistics.median([x[k] for x in rs if x.get(k) is not None]) for k in keys
            if any(x.get(k) is not None for x in rs)} | {"runs": len(rs)}


def cycle_only(nodes: int, pods: int) -> None:
    """The scheduling cycle alone, in this process: `pods` identical pods (100m/100Mi, a
    nodeSelector) onto `nodes` synthetic nodes through the framework and the cache, one after
    another with each assumed, as the loop does. Prints CPU time (process_time) per pod. Which
    scheduler code runs is whatever `kubeling` imports (PYTHONPATH=<exported tree> to pick one)."""
    import random
    from kubeling.services.scheduler.cache import Cache
    from kubeling.services.scheduler.framework.runtime import Framework
    cache = Cache()
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    for i in range(nodes):
        cache.add_or_update_node({"metadata": {"name": f"n-{i}", "labels": {"kubernetes.io/hostname": f"n-{i}", "b": "x"}},
                                  "spec": {}, "status": {"allocatable": alloc, "capacity": alloc}})
    fw, rng = Framework(), random.Random(1)
    t = time.process_time()
    for i in range(pods):
        pod = {"metadata": {"name": f"p-{i}", "namespace": "default", "uid": str(i)},
               "spec": {"nodeSelector": {"b": "x"}, "containers": [
                   {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}]}}
        node, _ = fw.schedule(pod, cache.snapshot(), rng)
        cache.assume(pod, node)
    dt = time.process_time() - t
    print(json.dumps({"nodes": nodes, "pods": pods, "cpu_ms_per_pod": round(1000 * dt / pods, 3),
                      "pods_per_cpu_second": round(pods / dt), "loadavg": loadavg()}))


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--cycle-only":
        cycle_only(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 300)
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--variant", choices=["hollow", "bare"], default="hollow")
    ap.add_argument("--agents", type=int, default=1, help="hollow node agent processes the nodes are split over")
    ap.add_argument("--pods", type=int, default=1000, help="backlog of pending pods per run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--percentage", type=int, default=0, help="--percentage-of-nodes-to-score (0 = adaptive)")
    ap.add_argument("--rev", default="HEAD", help="commit whose scheduler is measured (exported with git archive)")
    ap.add_argument("--baseline", default="", help="also measure this commit's scheduler, alternating with --rev")
    ap.add_argument("--timeout", type=float, default=600, help="seconds one run may take to bind the backlog")
    ap.add_argument("--keep-pods", action="store_true",
                    help="leave each run's pods bound (the next backlog goes to a new namespace) instead of "
                         "force-deleting them: at 1,000 hollow nodes deleting 1,000 pods took minutes")
    ap.add_argument("--out", default=None)
    ap.add_argument("--profile", default="", help="directory: py-spy the scheduler and the apiserver during each run")
    a = ap.parse_args()
    out_dir = Path(a.out or ROOT / "bench" / "results" / ("sched-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    out_dir.mkdir(parents=True, exist_ok=True)
    if a.profile:
        Path(a.profile).mkdir(parents=True, exist_ok=True)
    trees: dict[str, tuple[Path, str]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="schedbench-trees-"))
    trees["current"] = pin_store(a.rev, tmp / "current")
    if a.baseline:
        trees["baseline"] = pin_store(a.baseline, tmp / "baseline")
    out: dict = {"args": vars(a), "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "checkout_commit": git("rev-parse", "HEAD"),
                 "scheduler_commits": {k: v[1] for k, v in trees.items()}, "loadavg_start": loadavg(), "runs": []}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    c = Cluster(f"sb{os.getpid()}")
    f = out_dir / f"sched-{a.variant}-{a.nodes}.json"
    try:
        c.up()
        c.kill("kube-scheduler-0")
        if a.variant == "hollow":
            c.hollow_agents(a.nodes, a.agents)
        else:
            c.kill("kube-controller-manager-0")
            c.bare_nodes(a.nodes)
        out["nodes_ready_s"] = round(c.wait_nodes(a.variant, a.nodes, 900), 1)
        print(json.dumps({"nodes_ready_s": out["nodes_ready_s"], "nodes": a.nodes, "variant": a.variant}), flush=True)
        for r in range(a.runs):
            for label in (["baseline"] if a.baseline else []) + ["current"]:
                out["runs"].append(run_once(c, a, r, label, trees[label][0]))
                f.write_text(json.dumps(out, indent=1))
        out["summary"] = {label: summarize(out["runs"], label) for label in trees}
        print(json.dumps(out["summary"]), flush=True)
    except BaseException as ex:
        out["error"] = repr(ex)
        raise
    finally:
        out["loadavg_end"] = loadavg()
        for j, p in enumerate(c.agents):
            out.setdefault("hollow_agent_exit", {})[j] = p.poll()
        logs = sorted(Path(c.home).glob("*.log"))
        for lg in logs:  # keep the tails of our own processes' logs beside the JSON
            (out_dir / f"{a.variant}-{a.nodes}-{lg.name}").write_text("".join(lg.read_text(errors="replace").splitlines(True)[-200:]))
        c.down()
        f.write_text(json.dumps(out, indent=1))
        print("wrote", f)


if __name__ == "__main__":
    main()
