#!/usr/bin/env python3
"""Benchmark kubeling's store against real etcd, side by side, with the team's kvbench.

    python bench/store_bench.py [--runs 3] [--kinds kubeling,etcd-nofsync[,etcd]] [--out DIR]

For each run, for each kind in turn (alternating, so slow drifts of this shared machine hit
every kind alike), it starts a *fresh* 3-member cluster on free loopback ports with fresh data
dirs, runs `../shared/tools/kvbench.py --endpoints A,B,C --json DIR/<kind>-rN.json --label <kind>`,
and kills the cluster. Only one cluster is alive at a time: an idle cluster would steal CPU from
the measured one on two cores. At the end `kvbench-summary.py` turns the files into a table
(median [min-max]), printed and saved as DIR/summary.md.

`--store-rev REV` runs kubeling's store exported from commit REV rather than the live checkout
(which others may be editing during the minutes a benchmark takes); provenance.json records it.

Kinds: `kubeling` (`python -m kubeling etcd`; pysyncobj does not fsync), `etcd-nofsync` (etcd
with `--unsafe-no-fsync`, the like-for-like comparison), `etcd` (default etcd, fsync on).
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusters import KINDS, Cluster, pin_store, provenance  # noqa: E402  (bench/ is a folder of scripts, not a package)

TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="kvbench runs per kind (default 3)")
    p.add_argument("--kinds", default="kubeling,etcd-nofsync", help=f"comma list of {', '.join(KINDS)}")
    p.add_argument("--out", type=Path, default=None, help="result dir (default bench/results/<UTC time>)")
    p.add_argument("--tools", type=Path, default=TOOLS, help="where kvbench.py and kvbench-summary.py are")
    p.add_argument("--store-rev", default=None,
                   help="run kubeling's store at this git commit (exported once) instead of the live checkout")
    p.add_argument("--kvbench-args", default="", help="extra kvbench flags, e.g. '--duration 3'")
    return p.parse_args()


def run_kvbench(tools: Path, cluster: Cluster, out: Path, label: str, extra: list[str]) -> None:
    """One kvbench run against the cluster's three client URLs; its output goes to DIR/<label>.log."""
    cmd = [sys.executable, str(tools / "kvbench.py"), "--endpoints", ",".join(cluster.endpoints),
           "--json", str(out), "--label", label, *extra]
    with open(out.with_suffix(".log"), "wb") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=600)


def one_run(kind: str, run: int, args: argparse.Namespace, scratch: Path, tree: Path | None) -> Path:
    """A fresh cluster of `kind`, one kvbench run, and the cluster killed whatever happens."""
    out = args.out / f"{kind}-r{run}.json"
    cluster = Cluster(kind, scratch / f"{kind}-r{run}", store_tree=tree)
    try:
        cluster.start()
        started = time.strftime("%H:%M:%S")
        print(f"[{started}] run {run}/{args.runs}: {kind} on {','.join(cluster.endpoints)}", flush=True)
        run_kvbench(args.tools, cluster, out, kind, args.kvbench_args.split())
    finally:
        cluster.stop()
        shutil.rmtree(cluster.base_dir, ignore_errors=True)
    return out


def summarize(tools: Path, files: list[Path], out_dir: Path) -> str:
    table = subprocess.run([sys.executable, str(tools / "kvbench-summary.py"), *map(str, files)],
                           capture_output=True, text=True, check=True).stdout
    (out_dir / "summary.md").write_text(table)
    return table


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so the `finally` blocks still kill the clusters."""
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit(f"unknown kind {k!r}; choose from {', '.join(KINDS)}")
    args.out = args.out or Path(__file__).resolve().parent / "results" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, interrupt)
    files: list[Path] = []
    record = {"command": sys.argv, "start": provenance()}
    with tempfile.TemporaryDirectory(prefix="store-bench-") as scratch:
        tree = None
        if args.store_rev:
            tree, record["store_commit"] = pin_store(args.store_rev, Path(scratch) / "store-tree")
        for run in range(1, args.runs + 1):
            for kind in kinds:
                files.append(one_run(kind, run, args, Path(scratch), tree))
    record["end"] = provenance()
    (args.out / "provenance.json").write_text(json.dumps(record, indent=1) + "\n")
    print(summarize(args.tools, files, args.out))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
