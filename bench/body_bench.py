"""Worst-case decoding and patching times of bounded request bodies (issue 12).

Each case is a body of at most 3 MiB (the apiserver's body cap) built to be slow for one decoder;
the script times the apiserver's own code paths (codec.decode_body, patch.apply_patch) in-process,
`--runs` times each, and prints the median and range. Every case must end in the expected outcome
(decoded, or refused with the expected Status code), which the script checks.

    python bench/body_bench.py --runs 5 --json bench/results/bodies/run1.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from kubeling.services.apiserver.api.errors import StatusError
from kubeling.services.apiserver.api.models.core import ConfigMap
from kubeling.services.apiserver.patch import apply_patch
from kubeling.services.apiserver.server.codec import MAX_BODY, decode_body

MIB3 = 3 * 1024 * 1024


def yaml_case(body: bytes) -> Callable[[], Any]:
    return lambda: decode_body(body, "application/yaml")


def json_case(body: bytes) -> Callable[[], Any]:
    return lambda: decode_body(body, "application/json")


def cases() -> dict[str, tuple[Callable[[], Any], int]]:
    """name -> (call, expected Status code or 0 for success)."""
    maps = b"a: &a [{a}" + b",{a}" * (MIB3 // 4 - 8) + b"]"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {f"k{i}": "v" * 1000 for i in range(1400)}}
    copies = [{"op": "copy", "from": "/data", "path": f"/data/c{i}"} for i in range(10)]
    tests = [{"op": "test", "path": "/metadata/name", "value": "c"}] * 10000
    inserts = {"metadata": {"name": "c"}, "list": list(range(200_000))}
    return {
        "yaml 3 MiB of {a} maps, then an alias (refused)": (yaml_case(maps + b"\nb: &b [*a]"), 400),
        "yaml 3 MiB of {a} maps (decoded)": (yaml_case(maps), 0),
        "yaml 3 MiB of block-sequence scalars (decoded)": (yaml_case(b"a:\n" + b"- x\n" * (MIB3 // 4 - 4)), 0),
        "yaml 3 MiB of nesting (refused)": (yaml_case(b"[" * MIB3), 400),
        "json 3 MiB of empty arrays (decoded)": (json_case(b"[" + b"[]," * (MIB3 // 3 - 2) + b"[]]"), 0),
        "json 3 MiB of empty objects (decoded)": (json_case(b"[" + b"{}," * (MIB3 // 3 - 2) + b"{}]"), 0),
        "json 3 MiB of nesting (refused)": (json_case(b"[" * MIB3), 400),
        "json patch: 10 copies of a 1.4 MB ConfigMap's data (refused)": (lambda: apply_patch("json", cm, copies, ConfigMap), 422),
        "json patch: 10000 test operations on a 1.4 MB object (applied)": (lambda: apply_patch("json", cm, tests, ConfigMap), 0),
        "json patch: 10000 inserts at the head of a 200,000-item list (refused)": (
            lambda: apply_patch("json", inserts, [{"op": "add", "path": "/list/0", "value": 1}] * 10000, None), 422),
        "json patch: 400 inserts at the head of a 200,000-item list (applied)": (
            lambda: apply_patch("json", inserts, [{"op": "add", "path": "/list/0", "value": 1}] * 400, None), 0),
        "merge patch: 1.4 MB object, 1.4 MB patch (applied)": (
            lambda: apply_patch("merge", cm, {"data": {f"n{i}": "w" * 1000 for i in range(1400)}}, ConfigMap), 0),
    }


def run(call: Callable[[], Any], expect: int) -> float:
    start = time.perf_counter()
    try:
        call()
        got = 0
    except StatusError as e:
        got = e.code
    elapsed = time.perf_counter() - start
    if got != expect:
        raise SystemExit(f"expected {expect or 'success'}, got {got or 'success'}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    assert MAX_BODY == MIB3
    out: dict[str, Any] = {"loadavg_before": os.getloadavg()[0], "cases": {}}
    for name, (call, expect) in cases().items():
        times = [run(call, expect) for _ in range(args.runs)]
        out["cases"][name] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": times}
        print(f"{name}: median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})", flush=True)
    out["loadavg_after"] = os.getloadavg()[0]
    print(f"load average (1 min): {out['loadavg_before']:.1f} before, {out['loadavg_after']:.1f} after")
    if args.json:
        os.makedirs(os.path.dirname(args.json), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
