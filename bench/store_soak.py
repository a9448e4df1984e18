#!/usr/bin/env python3
"""Memory and disk of kubeling's store under a long write load.

    python bench/store_soak.py [--writes 60000] [--keys 500] [--value-size 256] [--every 10000]

Starts a fresh 3-member `kubeling etcd` cluster with etcd-style auto-compaction
(`--auto-compaction-mode revision --auto-compaction-retention 1000`) and Raft snapshots every
`--snapshot-count 5000` entries, sends `--writes` sequential-ish puts (8 concurrent writers)
over a keyspace of `--keys` keys, and every `--every` writes prints each member's RSS, the size
of its data dir, its key-index size and compact revision (from /metrics). Bounded means: these
level off instead of growing with the number of writes. Kills only the PIDs it started.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusters import Cluster, Member  # noqa: E402  (bench/ is a folder of scripts, not a package)

STORE_FLAGS = ["--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000",
               "--snapshot-count", "5000"]


class SoakCluster(Cluster):
    def command(self, m: Member) -> list[str]:
        return [*super().command(m), *STORE_FLAGS]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


async def writer(url: str, wid: int, n: int, keys: int, value: bytes, counter: list[int]) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for i in range(n):
            key = f"soak/{(wid * 7919 + i) % keys}".encode()
            body = {"key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()}
            r = await http.post(url + "/v3/kv/put", content=json.dumps(body))
            r.raise_for_status()
            counter[0] += 1


def report(c: Cluster, done: int) -> dict:
    row = {"writes": done, "members": []}
    for m in c.members:
        text = httpx.get(m.url + "/metrics", timeout=5).text
        row["members"].append({
            "rss_mib": round(rss_kib(m.proc.pid) / 1024, 1),
            "data_dir_kib": round(dir_bytes(m.data_dir) / 1024),
            "keys_in_index": int(metric(text, "etcd_debugging_mvcc_keys_total")),
            "revision": int(metric(text, "etcd_debugging_mvcc_current_revision")),
            "compact_revision": int(metric(text, "etcd_debugging_mvcc_compact_revision")),
        })
    print(json.dumps(row), flush=True)
    return row


async def soak(c: Cluster, args: argparse.Namespace) -> list[dict]:
    rows = [report(c, 0)]
    value = os.urandom(args.value_size // 2).hex().encode()[: args.value_size]
    done = 0
    while done < args.writes:
        chunk = min(args.every, args.writes - done)
        counter = [0]
        per = chunk // 8
        await asyncio.gather(*[writer(c.members[w % 3].url, w + done, per, args.keys, value, counter)
                               for w in range(8)])
        done += counter[0]
        rows.append(report(c, done))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writes", type=int, default=60000)
    p.add_argument("--keys", type=int, default=500)
    p.add_argument("--value-size", type=int, default=256)
    p.add_argument("--every", type=int, default=10000)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-soak-") as tmp:
        c = SoakCluster("kubeling", Path(tmp))
        try:
            c.start()
            rows = asyncio.run(soak(c, args))
        finally:
            for i in range(c.size):
                c.kill(i)
    if args.json:
        args.json.write_text(json.dumps({"flags": STORE_FLAGS, "args": vars(args) | {"json": str(args.json)},
                                         "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
