#!/usr/bin/env python3
"""Failover time of a 3-member store: leader `kill -9` to the next acknowledged write.

    python bench/failover_bench.py --target kubeling|etcd|etcd-nofsync [--kills 10] [--json out.json]

It starts a fresh 3-member cluster on free loopback ports, then repeats:
  1. find the leader: the member whose POST /v3/maintenance/status says leader == header.member_id;
  2. start a writer that sends a put of a fresh key every ~5 ms (--interval), alternating between
     the two survivors, each on its own connection and without waiting for earlier puts;
  3. `kill -9` the leader (by the PID this script started) and note the time;
  4. failover = first acknowledgement (HTTP 200) of a put *sent after* the kill, minus the kill time;
  5. stop the writers, restart the killed member from its data dir, wait until all three agree on
     a leader again.
and prints every sample and the median. A put that hangs (a proposal lost with the old leader)
is abandoned after --put-timeout; it never delays the puts sent after it.
`--store-rev REV` runs kubeling's store exported from commit REV, not the live checkout.
Only PIDs started here are signalled; the cluster is killed on any exit (finally / SIGTERM).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusters import KINDS, Cluster, pin_store, provenance  # noqa: E402  (bench/ is a folder of scripts, not a package)


async def put_once(port: int, key: str, timeout: float) -> bool:
    """One put on its own connection, so a put stuck on a dead leader never delays the next one."""
    body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                       "value": base64.b64encode(b"x" * 64).decode()}).encode()
    head = (f"POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()

    async def exchange() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head + body)
            status = await reader.readline()
            return status.split(b" ")[1:2] == [b"200"]
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(exchange(), timeout)
    except (OSError, asyncio.TimeoutError, IndexError):
        return False


class Writer:
    """Starts a put every `interval` seconds, round-robin over the survivors, without waiting
    for earlier puts; remembers when the first put sent after the kill was acknowledged."""

    def __init__(self, ports: list[int], interval: float, timeout: float, tag: str) -> None:
        self.ports, self.interval, self.timeout, self.tag = ports, interval, timeout, tag
        self.t0: float | None = None
        self.first_ack: float | None = None
        self.acks = 0

    async def one(self, n: int) -> None:
        sent = time.monotonic()
        if await put_once(self.ports[n % len(self.ports)], f"/failover/{self.tag}/{n}", self.timeout):
            self.acks += 1
            if self.t0 is not None and sent >= self.t0 and self.first_ack is None:
                self.first_ack = time.monotonic()

    async def run_until(self, stop: asyncio.Event) -> None:
        tasks: set[asyncio.Task] = set()
        n = 0
        while not stop.is_set():
            n += 1
            task = asyncio.create_task(self.one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wait_for_flag(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.001)


async def kill_and_measure(cluster: Cluster, leader: int, args: argparse.Namespace, round_no: int) -> float:
    survivors = [cluster.members[i].client_port for i in range(cluster.size) if i != leader]
    writer = Writer(survivors, args.interval, args.put_timeout, str(round_no))
    stop = asyncio.Event()
    loop = asyncio.create_task(writer.run_until(stop))
    try:
        # writes are being acknowledged before the kill: the cluster is healthy
        await wait_for_flag(lambda: writer.acks > 0, 30, "writes acknowledged before the kill")
        writer.t0 = time.monotonic()
        cluster.kill(leader)
        await wait_for_flag(lambda: writer.first_ack is not None, args.max_wait,
                            f"no write acknowledged within {args.max_wait}s of killing the leader")
        return writer.first_ack - writer.t0
    finally:
        stop.set()
        await loop


def measure_once(cluster: Cluster, args: argparse.Namespace, round_no: int) -> tuple[float, int]:
    """One leader kill; returns (seconds to the next acknowledged write, the killed member's index)."""
    leader = cluster.leader()
    return asyncio.run(kill_and_measure(cluster, leader, args, round_no)), leader


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=KINDS, required=True, help="kubeling's store or a real etcd")
    p.add_argument("--kills", type=int, default=10, help="leader kills (default 10)")
    p.add_argument("--interval", type=float, default=0.005, help="seconds between a writer's puts (default 0.005)")
    p.add_argument("--put-timeout", type=float, default=5.0, help="abandon a put after this long (default 5 s)")
    p.add_argument("--max-wait", type=float, default=30.0, help="give up a kill after this many seconds")
    p.add_argument("--store-rev", default=None,
                   help="run kubeling's store at this git commit (exported once) instead of the live checkout")
    p.add_argument("--json", type=Path, default=None, help="write the samples here")
    return p.parse_args()


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` kills the cluster."""
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    samples: list[dict] = []
    start = provenance()
    with tempfile.TemporaryDirectory(prefix=f"failover-{args.target}-") as scratch:
        tree = None
        if args.store_rev and args.target == "kubeling":
            tree, start["store_commit"] = pin_store(args.store_rev, Path(scratch) / "store-tree")
        cluster = Cluster(args.target, Path(scratch), store_tree=tree)
        try:
            cluster.start()
            for k in range(1, args.kills + 1):
                seconds, leader = measure_once(cluster, args, k)
                name = cluster.members[leader].name
                samples.append({"kill": k, "leader": name, "failover_s": round(seconds, 4)})
                print(f"kill {k:2d}: leader {name} -> next acknowledged write after {seconds * 1000:7.1f} ms",
                      flush=True)
                cluster.start_member(leader)
                cluster.wait_ready(60.0)
        finally:
            cluster.stop()
    values = [s["failover_s"] for s in samples]
    summary = {"target": args.target, "kills": len(values), "median_s": statistics.median(values),
               "min_s": min(values), "max_s": max(values), "samples": samples,
               "command": sys.argv, "start": start, "end": provenance()}
    print(f"{args.target}: median {summary['median_s'] * 1000:.0f} ms over {len(values)} leader kills "
          f"(min {summary['min_s'] * 1000:.0f}, max {summary['max_s'] * 1000:.0f})")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
