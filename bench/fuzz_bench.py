"""The API fuzzer and the hand-made bad inputs, longer than CI runs them (issue 12, "Fuzzing").

Starts a store (Debian's etcd) and a `kubeling apiserver` on loopback, then per run:
schemathesis over the apiserver's /openapi/v2 (tests/support/apifuzz.py: core/v1, apps/v1,
batch/v1 with status, scale, binding and eviction; `--examples` valid and as many
schema-violating cases per operation, a different seed each run), then `--rounds` rounds of the
hand-made list (tests/integration/apiserver/test_bad_inputs.py, the slow body excepted). It
reports requests, status codes, 5xx, errors that are not a Status, /healthz stalls (no answer
within 5 s; probed twice a second) and the slowest /healthz, and the apiserver's RSS.

    python bench/fuzz_bench.py --runs 3 --examples 25 --rounds 20 --json bench/results/fuzz/run.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.apiserver.conftest import start_apiserver, start_store  # noqa: E402
from tests.support.apifuzz import HealthWatcher, Report, fuzz, is_status, rss_kib  # noqa: E402
from tests.support.procs import ProcGroup  # noqa: E402


def bad_inputs(url: str, pid: int, rounds: int) -> Report:
    """The hand-made list, `rounds` times, under the same /healthz watcher."""
    import httpx

    from tests.integration.apiserver import test_bad_inputs as t

    class Cluster:  # what test_bad_inputs.send needs
        def __init__(self) -> None:
            self.url, self.http = url, httpx.Client(base_url=url, timeout=60)

    c = Cluster()
    for name in ("victim", "bystander"):
        c.http.post(t.PODS, json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    report = Report(rss_before_kib=rss_kib(pid))
    start = time.monotonic()
    with HealthWatcher(url, report, 5.0):
        for _ in range(rounds):
            for case in t.CASES:
                code, body = t.send(c, case)
                report.requests += 1
                report.codes[code] += 1
                if code >= 500:
                    report.server_errors.append(case.id)  # type: ignore[arg-type]
                elif code >= 400 and not is_status(body, code):
                    report.not_status.append(case.id)  # type: ignore[arg-type]
    report.seconds = time.monotonic() - start
    report.rss_after_kib = rss_kib(pid)
    c.http.close()
    return report


def summary(r: Report) -> dict:
    return {"requests": r.requests, "seconds": round(r.seconds, 1), "codes": dict(sorted(r.codes.items())),
            "5xx": len(r.server_errors), "not_status": len(r.not_status), "stalls": len(r.stalls),
            "health_probes": r.health_probes, "health_max_ms": round(r.health_max_s * 1000, 1),
            "rss_before_mib": round(r.rss_before_kib / 1024, 1), "rss_after_mib": round(r.rss_after_kib / 1024, 1),
            "findings": [str(f) for f in (r.server_errors + r.not_status)[:20]]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--examples", type=int, default=25, help="valid and invalid cases per operation and run")
    p.add_argument("--rounds", type=int, default=20, help="rounds of the hand-made list per run")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="fuzz-bench-"))
    group = ProcGroup(base)
    results = []
    try:
        store = start_store(group, base)
        url, api = start_apiserver(group, store)
        for run in range(args.runs):
            f = summary(fuzz(url, api.pid, args.examples, seed=run))
            b = summary(bad_inputs(url, api.pid, args.rounds))
            results.append({"run": run, "fuzzer": f, "bad_inputs": b})
            print(json.dumps(results[-1]), flush=True)
        rss_end = rss_kib(api.pid)
    finally:
        group.stop_all()
    out = {"examples": args.examples, "rounds": args.rounds, "runs": results, "rss_end_mib": round(rss_end / 1024, 1)}
    for part in ("fuzzer", "bad_inputs"):
        out[f"{part}_median_seconds"] = statistics.median(r[part]["seconds"] for r in results)
        out[f"{part}_requests"] = sum(r[part]["requests"] for r in results)
        out[f"{part}_5xx"] = sum(r[part]["5xx"] for r in results)
        out[f"{part}_not_status"] = sum(r[part]["not_status"] for r in results)
        out[f"{part}_stalls"] = sum(r[part]["stalls"] for r in results)
        out[f"{part}_health_max_ms"] = max(r[part]["health_max_ms"] for r in results)
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return 0 if not (out["fuzzer_5xx"] or out["bad_inputs_5xx"]) else 1


if __name__ == "__main__":
    sys.exit(main())
