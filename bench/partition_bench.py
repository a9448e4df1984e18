#!/usr/bin/env python3
"""Jepsen-like partition runs on kubeling's store and on Debian's etcd 3.4, more rounds than the test.

    sudo python bench/partition_bench.py [--runs 3] [--cycles 2] [--stores kubeling etcd]
                                         [--store-rev REV] [--json out.json]

Each run starts a fresh 3-member store in network namespaces (tests/integration/etcd/netlab.py)
and runs tests/integration/etcd/jepsen.py's workload (an appender and a register client on every
member) while a nemesis cycles through the leader isolated, a bridge and a random member isolated,
`--cycles` times each, every cut lasting 5-8 s, with 2 s of healthy cluster between cuts. Per run
it prints operations, acknowledged writes, lost writes, anomalies (linearizability checks and
members differing after healing), leader changes, pysyncobj's "truncating already-applied log
entries" warnings in kubeling's member logs, and how long after each heal every member had caught
up with the revision the cluster had when the cut was healed (links re-made, entries sent).
Then a markdown table for bench/RESULTS.md.
`--store-rev REV` adds "kubeling@REV": kubeling's store exported from commit REV (bench/clusters.py
pin_store), e.g. the commit before raftfix.py for the before/after rows.
Needs root (network namespaces); only PIDs and namespaces started here are touched.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusters import REPO, loadavg, pin_store, provenance  # noqa: E402  (bench/ is a folder of scripts)

sys.path.insert(0, str(REPO))
from tests.integration.etcd import jepsen  # noqa: E402


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cycles", type=int, default=2, help="cuts of each kind per run")
    p.add_argument("--stores", nargs="+", default=["kubeling", "etcd"], choices=["kubeling", "etcd"])
    p.add_argument("--store-rev", default=None, help="also run kubeling's store from this commit")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    schedule = [k for _ in range(args.cycles) for k in jepsen.KINDS]
    rows = []
    with tempfile.TemporaryDirectory(prefix="partition-bench-") as scratch:
        targets: list[tuple[str, str, Path | None]] = [(s, s, None) for s in args.stores]
        if args.store_rev:
            tree, commit = pin_store(args.store_rev, Path(scratch) / "store-tree")
            targets.insert(1, (f"kubeling@{commit[:7]}", "kubeling", tree))
        for label, store, tree in targets:
            for run in range(args.runs):
                t0 = time.monotonic()
                r = jepsen.run(store, Path(scratch) / f"{label}-{run}", schedule, seed=100 + run, store_tree=tree)
                catch = [c.caught_up_after for c in r.cycles if c.caught_up_after is not None]
                row = {**{k: v for k, v in r.summary().items() if k not in ("cycles", "problems")},
                       "store": label, "run": run + 1, "seconds": round(time.monotonic() - t0, 1),
                       "caught_up_median": statistics.median(catch) if catch else None,
                       "caught_up_max": max(catch) if catch else None,
                       "not_caught_up": sum(1 for c in r.cycles if c.caught_up_after is None),
                       "cycles": [{"kind": c.kind, "cut": c.cut, "caught_up_after": c.caught_up_after}
                                  for c in r.cycles],
                       "problems": r.problems[:20], "loadavg": loadavg()}
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "cycles"}), flush=True)

    print()
    print("| store | run | operations | acknowledged writes | unknown writes | lost | anomalies | leader changes "
          "| truncation warnings | caught up after heal, median / max (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        trunc = str(r["raft_truncations"]) if r["store"].startswith("kubeling") else "n/a"
        print(f"| {r['store']} | {r['run']} | {r['operations']} | {r['acknowledged_writes']} | {r['unknown_writes']} "
              f"| {r['lost']} | {r['anomalies']} | {r['leader_changes']} | {trunc} "
              f"| {fmt(r['caught_up_median'])} / {fmt(r['caught_up_max'])} |")
    if args.json:
        args.json.write_text(json.dumps({"provenance": provenance(), "args": vars(args) | {"json": str(args.json)},
                                         "rows": rows}, indent=1, default=str))
    return 0 if all(r["lost"] == 0 and r["anomalies"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
