"""`kubeling up` (issue 6): time to a whole cluster with every node Ready, and its memory.

    python bench/up_bench.py                   # 5 timed ups, memory of the first 3, default cluster
    python bench/up_bench.py --runs 3 --mem-runs 1 --up-args "--ha"
    python bench/up_bench.py --rev e35a1bf     # an older commit, for a before/after comparison

Each run is a fresh cluster in a fresh KUBELING_HOME (a temporary directory): `kubeling up -d`
is timed from the command's start to its return, which is when every node (the `controlplane`
node and node-1..3) is Ready. For the memory runs the script then waits until the control
plane's mirror pods are all Ready (so every process has done its start-up work: informers
filled, probes running), lets the cluster run for --settle seconds, and reads, for every
process of the cluster (the PIDs in its pids/ directory), VmRSS from /proc/PID/status and Pss
from /proc/PID/smaps_rollup. RSS is what the issue's target is stated in; it counts the shared
libraries (libpython, libssl, ...) once per process. PSS divides shared pages among the processes
that map them, so its sum is the memory the cluster really takes. Then `kubeling down --purge`.
With --rev, that commit of kubeling is exported (`git archive`, as clusters.py's pin_store does)
and every process of the run, the launcher included, imports it instead of the live checkout.
Nothing else of the machine is touched: the script stops only the cluster it started.

Prints one JSON document: every run, and the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


TREE: Path | None = None  # the exported commit (--rev), or None for the live checkout


def kubeling(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    if TREE is not None:
        env = dict(env, PYTHONPATH=str(TREE))
    return subprocess.run([sys.executable, "-m", "kubeling", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=TREE)


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) in KiB; (0, 0) for a process that is gone."""
    try:
        rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
        pss = int(re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M).group(1))
        return rss, pss
    except (OSError, AttributeError):
        return 0, 0


def control_plane_ready(env: dict, kubeconfig: str) -> bool:
    out = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "pods", "-n", "kube-system", "-l",
                          "tier=control-plane", "-o", "json"], env=env, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return False
    pods = json.loads(out.stdout)["items"]
    return bool(pods) and all(any(c["type"] == "Ready" and c["status"] == "True"
                                  for c in p.get("status", {}).get("conditions", [])) for p in pods)


def one_run(i: int, up_args: list[str], measure_memory: bool, settle: float) -> dict:
    home = tempfile.mkdtemp(prefix="kubeling-upbench-")
    env = dict(os.environ, KUBELING_HOME=home)
    name = "upbench"
    result: dict = {"run": i, "loadavg_before": load()}
    try:
        t0 = time.monotonic()
        up = kubeling(env, "up", "-d", "--name", name, *up_args)
        result["up_s"] = round(time.monotonic() - t0, 2)
        if up.returncode != 0:
            result["error"] = up.stderr[-2000:]
            return result
        m = re.search(r"\(up in ([\d.]+)s\)", up.stdout)
        result["up_reported_s"] = float(m.group(1)) if m else None
        if measure_memory:
            kubeconfig = kubeling(env, "kubeconfig", "--name", name).stdout.strip()
            deadline = time.monotonic() + 120
            while not control_plane_ready(env, kubeconfig):
                if time.monotonic() > deadline:
                    result["error"] = "control-plane pods not Ready within 120 s"
                    return result
                time.sleep(0.5)
            time.sleep(settle)
            per = {}
            for pidfile in sorted((Path(home) / name / "pids").glob("*.pid")):
                rss, pss = memory(int(pidfile.read_text()))
                per[pidfile.stem] = {"rss_kib": rss, "pss_kib": pss}
            result["processes"] = per
            result["rss_mib"] = round(sum(p["rss_kib"] for p in per.values()) / 1024, 1)
            result["pss_mib"] = round(sum(p["pss_kib"] for p in per.values()) / 1024, 1)
        result["loadavg_after"] = load()
        return result
    finally:
        kubeling(env, "down", "--name", name, "--purge")
        subprocess.run(["rm", "-rf", home], check=False)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="timed `kubeling up -d` runs (median reported)")
    p.add_argument("--mem-runs", type=int, default=3, help="of those, how many also measure memory")
    p.add_argument("--settle", type=float, default=5.0, help="seconds the cluster runs before memory is read")
    p.add_argument("--up-args", default="", help="extra `kubeling up` flags, e.g. '--ha' or '--nodes 5'")
    p.add_argument("--rev", default="", help="measure this commit (exported) instead of the live checkout")
    a = p.parse_args()
    global TREE
    commit = ""
    if a.rev:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from clusters import pin_store
        TREE, commit = pin_store(a.rev, Path(tempfile.mkdtemp(prefix="kubeling-upbench-rev-")) / "tree")
    runs = []
    for i in range(a.runs):
        r = one_run(i, shlex.split(a.up_args), i < a.mem_runs, a.settle)
        print(json.dumps(r), file=sys.stderr, flush=True)
        runs.append(r)
    ok = [r for r in runs if "error" not in r]
    mem = [r for r in ok if "rss_mib" in r]
    summary: dict = {"command": "python bench/up_bench.py " + " ".join(shlex.quote(x) for x in sys.argv[1:]),
                     "commit": commit or subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                                        cwd=Path(__file__).resolve().parent).stdout.strip(),
                     "runs": runs, "failed": len(runs) - len(ok)}
    if ok:
        summary["up_s_median"] = statistics.median(r["up_s"] for r in ok)
        summary["up_s_all"] = [r["up_s"] for r in ok]
    if mem:
        summary["rss_mib_median"] = statistics.median(r["rss_mib"] for r in mem)
        summary["pss_mib_median"] = statistics.median(r["pss_mib"] for r in mem)
        names = mem[0]["processes"].keys()
        summary["rss_mib_per_process_median"] = {
            n: round(statistics.median(r["processes"][n]["rss_kib"] for r in mem) / 1024, 1) for n in names}
    print(json.dumps(summary, indent=1))
    if TREE is not None:
        subprocess.run(["rm", "-rf", str(TREE.parent)], check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
