"""Whole-cluster measurements (issues 4 and 5) on clusters started with `kubeling up`.

  python bench/cluster_bench.py evict --kills 3 [--grace 4s --eviction 5s --monitor-period 1s]
  python bench/cluster_bench.py scale --replicas 1000 --hollow 12
  python bench/cluster_bench.py sched --hollow 100 --burst 500 --rate 20 --seconds 30

Every mode starts its own cluster (`kubeling up -d --tls=false --name cb-<mode>-<pid>`, KUBELING_HOME in a
temporary directory) and, for the hollow-node modes, one `kubeling node --hollow-nodes N` process
on 127.0.60.1; it stops what it started (`kubeling down --purge`, the hollow process by its PID)
on success, error and SIGTERM. The API is read over plain HTTP from the cluster's kubeconfig.
Output: one JSON per mode in --out (default bench/results/cluster-<UTC time>/), with provenance.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from clusters import loadavg, sh  # noqa: E402  (bench/ is a folder of scripts, not a package)

LOG_PREFIX: Path | None = None  # <out>/<mode><tag>: where down() keeps the hollow process's log (gzipped)


def provenance() -> dict:
    return {"commit": sh("git", "-C", str(ROOT), "rev-parse", "HEAD").strip(),
            "dirty": sh("git", "-C", str(ROOT), "status", "--porcelain", "--", "services", "kubeling", "shared").strip(),
            "loadavg_start": loadavg(), "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "argv": sys.argv}


class Cluster:
    def __init__(self, name: str, up_args: list[str]):
        self.name = name
        self.home = tempfile.mkdtemp(prefix="kubeling-bench-")
        self.env = dict(os.environ, KUBELING_HOME=self.home)
        self.up_args = up_args
        self.extra: list[subprocess.Popen] = []
        self.started = False

    def up(self):
        self.started = True
        t = time.monotonic()
        # plain HTTP, as these benchmarks have always measured it (kubeling up is TLS by default since 40e32b3)
        sh("kubeling", "up", "-d", "--name", self.name, "--tls=false", *self.up_args, env=self.env, timeout=300)
        self.up_s = time.monotonic() - t
        self.kubeconfig = sh("kubeling", "kubeconfig", "--name", self.name, env=self.env).strip().splitlines()[-1].split()[-1]
        self.env["KUBECONFIG"] = self.kubeconfig
        txt = Path(self.kubeconfig).read_text()
        self.api = [l.split("server:")[1].strip() for l in txt.splitlines() if "server:" in l][0].split(",")[0]

    def kubeling(self, *a, check=True):
        return sh("kubeling", *a, "--name", self.name, env=self.env, check=check)

    def kubectl(self, *a, check=True, timeout=600):
        return sh("kubectl", *a, env=self.env, check=check, timeout=timeout)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.api + path, timeout=60) as r:
            return json.loads(r.read())

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.api + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def hollow(self, n: int, max_pods: int = 110):
        log = open(Path(self.home) / "hollow.log", "w")
        p = subprocess.Popen(["kubeling", "node", "--node-name", "hollow", "--hollow-nodes", str(n),
                              "--kubeconfig", self.kubeconfig, "--node-ip", "127.0.60.1",
                              "--cluster-cidr", "127.248.0.0/14", "--max-pods", str(max_pods)],
                             env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.extra.append(p)
        t = time.monotonic()
        while time.monotonic() - t < 300:
            nodes = self.get("/api/v1/nodes?labelSelector=kubeling.io%2Fhollow%3Dtrue")["items"]
            ready = [x for x in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                             for c in x.get("status", {}).get("conditions", []))]
            if len(ready) >= n:
                return time.monotonic() - t
            if p.poll() is not None:
                raise RuntimeError(f"hollow node process exited rc={p.returncode}")
            time.sleep(1)
        raise RuntimeError(f"only {len(ready)}/{n} hollow nodes Ready")

    def down(self, out: dict | None = None):
        for p in self.extra:
            rc = p.poll()
            if out is not None:
                out["hollow_exit"] = rc  # None: still running when the bench ended, as it should be
            if rc is not None:
                print(f"hollow node process {p.pid} had exited, rc={rc}", file=sys.stderr)
            if rc is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(10)
                except Exception:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except Exception:
                        pass
        log = Path(self.home) / "hollow.log"
        if self.extra and LOG_PREFIX is not None and log.exists():
            with open(log, "rb") as src, gzip.open(f"{LOG_PREFIX}-hollow.log.gz", "wb") as dst:
                dst.write(src.read())
        if self.started:
            sh("kubeling", "down", "--name", self.name, "--purge", env=self.env, check=False, timeout=120)

    def save_logs(self):
        """After a failure: the cluster's own logs (they go with `down --purge`) as <prefix>-logs.tar.gz."""
        if LOG_PREFIX is None or not self.started:
            return
        base = Path(self.home) / self.name
        sh("tar", "czf", f"{LOG_PREFIX}-logs.tar.gz", "-C", str(base), "logs", check=False)

    def hollow_health(self) -> dict:
        """How the hollow nodes look right now: NotReady nodes, and whether the process lives."""
        nodes = self.get("/api/v1/nodes?labelSelector=kubeling.io%2Fhollow%3Dtrue")["items"]
        not_ready = [x["metadata"]["name"] for x in nodes if not any(
            c["type"] == "Ready" and c["status"] == "True" for c in x.get("status", {}).get("conditions", []))]
        return {"not_ready": not_ready, "process_alive": all(p.poll() is None for p in self.extra)}


class RolloutWatch(threading.Thread):
    """Samples, once a second during a rollout, the Deployment's status.availableReplicas (what
    the controllers report, which lags), the pods really Running+Ready and not terminating (from
    the watch cache, resourceVersion=0), and how many hollow nodes are NotReady."""

    def __init__(self, c: Cluster, name: str):
        super().__init__(daemon=True)
        self.c, self.name = c, name
        self.t0 = time.monotonic()
        self.min_available: int | None = None
        self.min_ready_pods: int | None = None
        self.max_not_ready = 0
        self.samples = 0
        self.timeline: list[list] = []  # [s since start, status.availableReplicas, ready pods, NotReady nodes]
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(1.0):
            try:
                st = self.c.get(f"/apis/apps/v1/namespaces/default/deployments/{self.name}").get("status", {})
                avail = int(st.get("availableReplicas") or 0)
                pods = self.c.get(f"/api/v1/namespaces/default/pods?labelSelector=app%3D{self.name}&resourceVersion=0")["items"]
                ready = sum(1 for p in pods if pod_ready(p) and not p["metadata"].get("deletionTimestamp"))
                not_ready = len(self.c.hollow_health()["not_ready"])
                self.min_available = avail if self.min_available is None else min(self.min_available, avail)
                self.min_ready_pods = ready if self.min_ready_pods is None else min(self.min_ready_pods, ready)
                self.max_not_ready = max(self.max_not_ready, not_ready)
                self.timeline.append([round(time.monotonic() - self.t0, 1), avail, ready, not_ready])
                self.samples += 1
            except Exception as e:  # a slow or failed poll is not the rollout failing
                print(f"rollout watch: {e!r}", file=sys.stderr)


def pod_ready(p: dict) -> bool:
    return p.get("status", {}).get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def deploy_yaml(name: str, replicas: int, node_selector: dict | None = None) -> str:
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}
    if node_selector:
        spec["template"]["spec"]["nodeSelector"] = node_selector
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec})


def apply(c: Cluster, doc: str):
    p = subprocess.run(["kubectl", "apply", "-f", "-"], input=doc, env=c.env, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr)


def wait_ready(c: Cluster, selector: str, n: int, timeout: float, poll=0.5, image=None) -> float:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        pods = c.get(f"/api/v1/namespaces/default/pods?labelSelector={selector}")["items"]
        ok = [p for p in pods if pod_ready(p) and not p["metadata"].get("deletionTimestamp")
              and (image is None or p["spec"]["containers"][0]["image"] == image)]
        if len(ok) >= n:
            return time.monotonic() - t
        time.sleep(poll)
    raise RuntimeError(f"timeout: {len(ok)}/{n} Ready")


# ---------------------------------------------------------------- evict (issue 5)
def mode_evict(a, out: dict):
    up = ["--nodes", str(a.nodes)]
    if a.grace:
        up += ["--node-monitor-grace-period", a.grace]
    if a.eviction:
        up += ["--pod-eviction-timeout", a.eviction]
    if a.monitor_period:
        up += ["--node-monitor-period", a.monitor_period]
    c = Cluster(f"cbe{os.getpid()}", up)
    out["up_args"] = up
    try:
        c.up()
        out["up_s"] = c.up_s
        apply(c, deploy_yaml("web", a.replicas))
        out["initial_ready_s"] = wait_ready(c, "app%3Dweb", a.replicas, 300)
        samples = []
        for k in range(a.kills):
            pods = [p for p in c.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")["items"]
                    if pod_ready(p)]
            per = {}
            for p in pods:
                per.setdefault(p["spec"].get("nodeName"), []).append(p["metadata"]["name"])
            victim = max(per, key=lambda n: len(per[n]))
            moved = set(per[victim])
            la = loadavg()
            t0 = time.monotonic()
            c.kubeling("kill", victim)
            first_gone = None
            while True:
                now = time.monotonic() - t0
                if now > a.timeout:
                    raise RuntimeError(f"kill {k}: not healed after {a.timeout}s")
                items = c.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")["items"]
                if first_gone is None and not (moved & {p["metadata"]["name"] for p in items
                                                        if not p["metadata"].get("deletionTimestamp")}):
                    first_gone = now
                ready_elsewhere = [p for p in items if pod_ready(p) and p["spec"].get("nodeName") != victim
                                   and not p["metadata"].get("deletionTimestamp")]
                if len(ready_elsewhere) >= a.replicas and first_gone is not None:
                    break
                time.sleep(a.poll)
            s = {"kill": k, "victim": victim, "pods_on_victim": len(moved), "heal_s": round(now, 2),
                 "old_pods_deleted_s": round(first_gone, 2), "loadavg_1m": la[0]}
            print(json.dumps(s), flush=True)
            samples.append(s)
            if k + 1 < a.kills:
                c.kubeling("start", victim)
                t = time.monotonic()
                while time.monotonic() - t < 120:
                    n = c.get(f"/api/v1/nodes/{victim}")
                    cond = {x["type"]: x["status"] for x in n["status"].get("conditions", [])}
                    if cond.get("Ready") == "True" and not any(
                            t_["key"].startswith("node.kubernetes.io/") for t_ in n["spec"].get("taints") or []):
                        break
                    time.sleep(0.5)
                time.sleep(2)
        out["samples"] = samples
        out["median_heal_s"] = statistics.median(s["heal_s"] for s in samples)
    finally:
        c.down()


# ---------------------------------------------------------------- scale (issue 5)
def mode_scale(a, out: dict):
    c = Cluster(f"cbs{os.getpid()}", ["--nodes", "1"])
    try:
        c.up()
        out["hollow_nodes"] = a.hollow
        out["hollow_ready_s"] = c.hollow(a.hollow, a.max_pods)
        sel = {"kubeling.io/hollow": "true"}
        res = []
        for r in a.replicas:
            name = f"big{r}"
            apply(c, deploy_yaml(name, 0, sel))
            time.sleep(1)
            la = loadavg()
            t0 = time.monotonic()
            c.kubectl("scale", f"deployment/{name}", f"--replicas={r}")
            wait_ready(c, f"app%3D{name}", r, a.timeout, poll=1.0)
            up_s = time.monotonic() - t0
            print(json.dumps({"replicas": r, "scale_up_s": round(up_s, 2)}), flush=True)
            before = c.get(f"/apis/apps/v1/namespaces/default/deployments/{name}").get("status", {})
            t1 = time.monotonic()
            watch = RolloutWatch(c, name)
            watch.start()
            try:
                c.kubectl("set", "image", f"deployment/{name}", "nginx=nginx:1.25")
                c.kubectl("rollout", "status", f"deployment/{name}", f"--timeout={int(a.timeout)}s", timeout=a.timeout + 30)
            finally:
                watch.done.set()
                out.setdefault("rollout_watch", {})[str(r)] = {"min_available": watch.min_available,
                                                               "min_ready_pods": watch.min_ready_pods,
                                                               "max_hollow_not_ready": watch.max_not_ready,
                                                               "timeline": watch.timeline}
            roll_s = time.monotonic() - t1
            d = c.get(f"/apis/apps/v1/namespaces/default/deployments/{name}")
            s = {"replicas": r, "scale_up_s": round(up_s, 2), "rollout_s": round(roll_s, 2),
                 "status_after": {k: d["status"].get(k) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")},
                 "available_before": before.get("availableReplicas"),
                 "rollout_min_available": watch.min_available, "rollout_min_ready_pods": watch.min_ready_pods,
                 "rollout_max_hollow_not_ready": watch.max_not_ready,
                 "watch_samples": watch.samples, "hollow_after": c.hollow_health(),
                 "loadavg_1m_start": la[0], "loadavg_1m_end": loadavg()[0]}
            print(json.dumps(s), flush=True)
            res.append(s)
            if r == a.replicas[-1]:
                break  # the cluster goes next: no need to wait for the last Deployment's pods to go
            c.kubectl("delete", "deployment", name, "--wait=false")
            t = time.monotonic()
            while time.monotonic() - t < 300 and c.get(f"/api/v1/namespaces/default/pods?labelSelector=app%3D{name}")["items"]:
                time.sleep(2)
        out["samples"] = res
    except BaseException:
        c.save_logs()
        raise
    finally:
        c.down(out)


# ---------------------------------------------------------------- sched (issue 4)
class PodWatch(threading.Thread):
    """Records, per pod name, the monotonic time it was first seen bound and first seen Running+Ready."""

    def __init__(self, c: Cluster, rv: str):
        super().__init__(daemon=True)
        self.c, self.rv = c, rv
        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                with urllib.request.urlopen(f"{self.c.api}/api/v1/namespaces/default/pods?watch=1&labelSelector=bench%3Dsched"
                                            f"&resourceVersion={self.rv}&timeoutSeconds=600", timeout=700) as r:
                    for line in r:
                        now = time.monotonic()
                        ev = json.loads(line)
                        o = ev["object"]
                        if ev["type"] == "BOOKMARK" or "metadata" not in o:
                            continue
                        self.rv = o["metadata"].get("resourceVersion", self.rv)
                        n = o["metadata"]["name"]
                        if o.get("spec", {}).get("nodeName") and n not in self.bound:
                            self.bound[n] = now
                        if pod_ready(o) and n not in self.running:
                            self.running[n] = now
                        if self.stop:
                            return
            except Exception as e:  # reconnect from the last rv
                if self.stop:
                    return
                print("watch:", e, file=sys.stderr)
                time.sleep(0.2)


def pod_body(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "sched"}},
            "spec": {"nodeSelector": {"kubeling.io/hollow": "true"},
                     "containers": [{"name": "c", "image": "nginx"}]}}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def mode_sched(a, out: dict):
    c = Cluster(f"cbk{os.getpid()}", ["--nodes", "1"])
    try:
        c.up()
        out["hollow_nodes"] = a.hollow
        out["hollow_ready_s"] = c.hollow(a.hollow, a.max_pods)
        time.sleep(3)
        rv = c.get("/api/v1/namespaces/default/pods?labelSelector=bench%3Dsched")["metadata"]["resourceVersion"]
        w = PodWatch(c, rv)
        w.start()
        # burst: a.burst pods created by 16 threads as fast as the apiserver takes them
        names = [f"burst-{i}" for i in range(a.burst)]
        created: dict[str, float] = {}
        lock = threading.Lock()
        it = iter(names)

        def worker():
            while True:
                with lock:
                    n = next(it, None)
                if n is None:
                    return
                c.post("/api/v1/namespaces/default/pods", pod_body(n))
                created[n] = time.monotonic()
        la = loadavg()
        t0 = time.monotonic()
        ths = [threading.Thread(target=worker) for _ in range(16)]
        [t.start() for t in ths]
        [t.join() for t in ths]
        t_created = time.monotonic() - t0
        while len([n for n in names if n in w.bound]) < a.burst and time.monotonic() - t0 < a.timeout:
            time.sleep(0.1)
        nb = [n for n in names if n in w.bound]
        t_all = max(w.bound[n] for n in nb) - t0
        first_bind = min(w.bound[n] for n in nb) - t0
        out["burst"] = {"pods": a.burst, "bound": len(nb), "create_all_s": round(t_created, 2),
                        "first_create_to_all_bound_s": round(t_all, 2), "first_bind_s": round(first_bind, 2),
                        "pods_bound_per_s": round(len(nb) / t_all, 1),
                        "pods_bound_per_s_after_first_bind": round((len(nb) - 1) / (t_all - first_bind), 1) if t_all > first_bind else None,
                        "loadavg_1m": la[0]}
        print(json.dumps(out["burst"]), flush=True)
        while len([n for n in names if n in w.running]) < a.burst and time.monotonic() - t0 < a.timeout:
            time.sleep(0.2)
        out["burst"]["all_running_s"] = round(max(w.running[n] for n in names if n in w.running) - t0, 2)
        out["burst"]["running"] = len([n for n in names if n in w.running])
        # delete the burst, let the cluster settle
        sh("kubectl", "delete", "pods", "-l", "bench=sched", "--wait=false", env=c.env)
        t = time.monotonic()
        while time.monotonic() - t < 300 and c.get("/api/v1/namespaces/default/pods?labelSelector=bench%3Dsched")["items"]:
            time.sleep(1)
        time.sleep(3)
        # startup latency: a.rate pods/s for a.seconds, open loop (a few sender threads)
        n_total = int(a.rate * a.seconds)
        lat_names = [f"lat-{i}" for i in range(n_total)]
        sent: dict[str, float] = {}
        la = loadavg()
        t0 = time.monotonic()
        idx = iter(range(n_total))

        def sender():
            while True:
                with lock:
                    i = next(idx, None)
                if i is None:
                    return
                due = t0 + i / a.rate
                d = due - time.monotonic()
                if d > 0:
                    time.sleep(d)
                sent[lat_names[i]] = time.monotonic()
                c.post("/api/v1/namespaces/default/pods", pod_body(lat_names[i]))
        ths = [threading.Thread(target=sender) for _ in range(4)]
        [t.start() for t in ths]
        [t.join() for t in ths]
        send_s = time.monotonic() - t0
        while len([n for n in lat_names if n in w.running]) < n_total and time.monotonic() - t0 < a.seconds + 120:
            time.sleep(0.2)
        w.stop = True
        lats = [w.running[n] - sent[n] for n in lat_names if n in w.running]
        sched = [w.bound[n] - sent[n] for n in lat_names if n in w.bound]
        out["startup"] = {"rate": a.rate, "pods": n_total, "send_s": round(send_s, 2), "running": len(lats),
                          "p50_s": round(pct(lats, 50), 3), "p90_s": round(pct(lats, 90), 3),
                          "p99_s": round(pct(lats, 99), 3), "max_s": round(max(lats), 3),
                          "create_to_bound_p50_s": round(pct(sched, 50), 3), "create_to_bound_p99_s": round(pct(sched, 99), 3),
                          "loadavg_1m": la[0]}
        print(json.dumps(out["startup"]), flush=True)
    finally:
        c.down(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("evict")
    e.add_argument("--nodes", type=int, default=3)
    e.add_argument("--replicas", type=int, default=30)
    e.add_argument("--kills", type=int, default=3)
    e.add_argument("--grace", default="4s")
    e.add_argument("--eviction", default="5s")
    e.add_argument("--monitor-period", default="1s")
    e.add_argument("--timeout", type=float, default=600)
    e.add_argument("--poll", type=float, default=0.25)
    s = sub.add_parser("scale")
    s.add_argument("--replicas", type=lambda x: [int(v) for v in x.split(",")], default=[1000])
    s.add_argument("--hollow", type=int, default=12)
    s.add_argument("--max-pods", type=int, default=110)
    s.add_argument("--timeout", type=float, default=900)
    k = sub.add_parser("sched")
    k.add_argument("--hollow", type=int, default=100)
    k.add_argument("--max-pods", type=int, default=110)
    k.add_argument("--burst", type=int, default=500)
    k.add_argument("--rate", type=float, default=20)
    k.add_argument("--seconds", type=float, default=30)
    k.add_argument("--timeout", type=float, default=600)
    for p in (e, s, k):
        p.add_argument("--out", default=None)
        p.add_argument("--tag", default="")
    a = ap.parse_args()
    out_dir = Path(a.out or ROOT / "bench" / "results" / ("cluster-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    out_dir.mkdir(parents=True, exist_ok=True)
    global LOG_PREFIX
    LOG_PREFIX = out_dir / f"{a.mode}{a.tag}"
    out = {"mode": a.mode, "provenance": provenance()}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t = time.monotonic()
    try:
        {"evict": mode_evict, "scale": mode_scale, "sched": mode_sched}[a.mode](a, out)
    except BaseException as ex:
        out["error"] = repr(ex)
        raise
    finally:
        out["wall_s"] = round(time.monotonic() - t, 1)
        out["provenance"]["loadavg_end"] = loadavg()
        f = out_dir / f"{a.mode}{a.tag}.json"
        f.write_text(json.dumps(out, indent=1))
        print("wrote", f)


if __name__ == "__main__":
    main()
