"""A real API fuzzer run against a live apiserver: schemathesis reads the apiserver's own
/openapi/v2 and generates requests for every operation of core/v1, apps/v1 and batch/v1
(status, scale, binding and eviction included), valid ones and schema-violating ones, and
`Fuzz` checks every answer: never a 5xx, every error a `Status` whose code is the HTTP status.

While it runs, a watcher thread asks /healthz twice a second and records an answer that does
not come within `health_timeout` (a stall). The apiserver's RSS is read from /proc before and
after. Used by tests/integration/apiserver/test_api_fuzz.py (few examples per operation) and
bench/fuzz_bench.py (many).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

GROUP_VERSIONS = ("/api/v1/", "/apis/apps/v1/", "/apis/batch/v1/")


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def is_status(body: bytes, code: int) -> bool:
    """An error answer is a meta/v1 Status with the same code (what every client decodes)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("kind") == "Status" and doc.get("code") == code and doc.get("status") == "Failure"


def upstream_5xx(code: int, body: bytes) -> bool:
    """The one 5xx upstream answers a client with on purpose: a read at a resourceVersion the
    store has not reached (storage.NewTooLargeResourceVersionError, 504 Timeout)."""
    if code != 504:
        return False
    doc = json.loads(body)
    return doc.get("reason") == "Timeout" and str(doc.get("message", "")).startswith("Timeout: Too large resource version")


@dataclass
class Finding:
    method: str
    path: str
    query: Any
    status: int
    body: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.query} -> {self.status}: {self.body[:300]}"


@dataclass
class Report:
    requests: int = 0
    codes: Counter = field(default_factory=Counter)
    server_errors: list[Finding] = field(default_factory=list)
    not_status: list[Finding] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)  # seconds without a /healthz answer
    health_probes: int = 0
    health_max_s: float = 0.0  # the slowest /healthz answer seen
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    seconds: float = 0.0


class HealthWatcher:
    """Probes /healthz every `interval` s on its own connection while the fuzzer runs."""

    def __init__(self, base_url: str, report: Report, timeout: float, interval: float = 0.5) -> None:
        self.base_url, self.report, self.timeout, self.interval = base_url, report, timeout, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            while not self._stop.wait(self.interval):
                start = time.monotonic()
                try:
                    ok = http.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.monotonic() - start
                self.report.health_probes += 1
                self.report.health_max_s = max(self.report.health_max_s, took)
                if not ok:
                    self.report.stalls.append(took)


def load_schema(base_url: str) -> Any:
    """The apiserver's Swagger 2.0 document, cut to the group-versions the fuzzer covers."""
    import schemathesis
    doc = httpx.get(base_url + "/openapi/v2", timeout=30).json()
    doc["paths"] = {p: v for p, v in doc["paths"].items() if p.startswith(GROUP_VERSIONS)}
    return schemathesis.openapi.from_dict(doc)


def operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


def fuzz(base_url: str, pid: int, examples: int, seed: int = 0, health_timeout: float = 5.0) -> Report:
    """Run `examples` positive and `examples` negative cases per operation; return what was seen."""
    from hypothesis import HealthCheck, Phase, given, seed as hseed, settings
    from schemathesis import GenerationMode

    report = Report(rss_before_kib=rss_kib(pid))
    schema = load_schema(base_url)
    start = time.monotonic()
    with HealthWatcher(base_url, report, health_timeout):
        for op in operations(schema):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @hseed(seed)
                @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                          suppress_health_check=list(HealthCheck))
                @given(op.as_strategy(generation_mode=mode))
                def one(case: Any) -> None:
                    if isinstance(case.query, dict) and "watch" in case.query:
                        case.query["timeoutSeconds"] = "1"  # a watch would otherwise stream until the client gives up
                    try:
                        r = case.call(base_url=base_url, timeout=30)
                    except Exception as e:  # a transport failure: the server dropped the request
                        report.server_errors.append(Finding(case.method, case.formatted_path, case.query, 0, repr(e)))
                        return
                    report.requests += 1
                    report.codes[r.status_code] += 1
                    finding = Finding(case.method, case.formatted_path, case.query, r.status_code, r.content[:1000].decode("utf-8", "replace"))
                    if r.status_code >= 500 and not upstream_5xx(r.status_code, r.content):
                        report.server_errors.append(finding)
                    elif r.status_code >= 400 and not is_status(r.content, r.status_code):
                        report.not_status.append(finding)
                one()
    report.seconds = time.monotonic() - start
    report.rss_after_kib = rss_kib(pid)
    return report
