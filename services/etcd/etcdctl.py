"""`kubeling etcdctl`: etcdctl v3's verbs, flags and output, spoken over etcd's JSON gateway.

Why a reimplementation rather than a wrapper around the real `etcdctl`: kubeling runs where no Go
binary is installed, and its store serves only the JSON gateway (no gRPC). So this client talks
HTTP/1.1 JSON to `/v3/...` and reproduces etcdctl 3.4's *output* byte for byte (simple, json and
table writers, hex lease IDs, exit codes, `Error: ...` lines), because people and scripts parse
that output. The same command works against kubeling's store and a real etcd.

Deliberate differences from etcdctl 3.4, each because the gateway or this project calls for it:
- `--count-only` (an etcdctl 3.5 flag) prints the count in simple output;
- a flag given on the command line wins over its ETCDCTL_* variable (etcdctl refuses the pair);
- `-w fields` and `-w protobuf` are not offered; auth, snapshot, txn and the other verbs neither.
"""
from __future__ import annotations

import base64
import json
import math
import os
import queue
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from kubeling.shared import strconv

ETCDCTL_VERSION = "3.4.23"
API_VERSION = "3.4"

# etcdctl's exit codes (pkg/cobrautl)
EXIT_ERROR = 1
EXIT_BAD_CONNECTION = 2
EXIT_BAD_FEATURE = 4
EXIT_INTERRUPTED = 5
EXIT_BAD_ARGS = 128


class CtlError(Exception):
    """An error that ends the command the way etcdctl's ExitWithError does."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ServerError(CtlError):
    """An error answer from the gateway ({error, message, code}) or the transport."""

    def __init__(self, message: str, grpc_code: int = 2) -> None:
        super().__init__(message, EXIT_ERROR)
        self.grpc_code = grpc_code


DEADLINE = "context deadline exceeded"


# ----------------------------------------------------------------------------------------------
# Command line: a small pflag-compatible parser. argparse cannot mix subcommands with flags that
# may appear anywhere (cobra allows `etcdctl get --prefix a -w json`), nor print pflag's errors.
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Flag:
    name: str
    kind: str  # bool | str | int | dur | list
    default: Any
    help: str
    short: str = ""


GLOBAL_FLAGS = [
    Flag("endpoints", "list", ["127.0.0.1:2379"], "gRPC endpoints"),
    Flag("dial-timeout", "dur", 2.0, "dial timeout for client connections"),
    Flag("command-timeout", "dur", 5.0, "timeout for short running command (excluding dial timeout)"),
    Flag("write-out", "str", "simple", "set the output format (json, simple, table)", short="w"),
    Flag("hex", "bool", False, "print byte strings as hex encoded strings"),
    Flag("debug", "bool", False, "enable client-side debug logging"),
    Flag("keepalive-time", "dur", 2.0, "keepalive time for client connections"),
    Flag("keepalive-timeout", "dur", 6.0, "keepalive timeout for client connections"),
    Flag("cacert", "str", "", "verify certificates of TLS-enabled secure servers using this CA bundle"),
    Flag("cert", "str", "", "identify secure client using this TLS certificate file"),
    Flag("key", "str", "", "identify secure client using this TLS key file"),
    Flag("insecure-skip-tls-verify", "bool", False, "skip server certificate verification"),
    Flag("insecure-transport", "bool", True, "disable transport security for client connections"),
    Flag("help", "bool", False, "help", short="h"),
]


@dataclass
class Command:
    path: tuple[str, ...]
    usage: str
    short: str
    flags: list[Flag] = field(default_factory=list)
    run: Callable[["Ctx"], None] | None = None


@dataclass
class Ctx:
    """What a command runs with: parsed flags, positional args, the gateway and the printer."""

    args: list[str]
    flags: dict[str, Any]
    gw: "Gateway"
    out: "Output"


def _parse_bool(s: str) -> bool:
    if s in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if s in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{s}": invalid syntax')


def parse_duration(s: str) -> float:
    """A duration flag's value: Go's time.ParseDuration, in seconds ("" is zero, as an unset flag)."""
    return strconv.parse_duration(s) if s else 0.0


def parse_go_int(s: str, base: int = 10) -> int:
    """strconv.ParseInt(s, base, 64), with its error text."""
    try:
        if not re.fullmatch(r"[+-]?[0-9a-fA-F]+" if base == 16 else r"[+-]?[0-9]+", s):
            raise ValueError
        value = int(s, base)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{s}": invalid syntax') from None
    if not -(2**63) <= value < 2**63:
        raise ValueError(f'strconv.ParseInt: parsing "{s}": value out of range')
    return value


def _convert(flag: Flag, raw: str) -> Any:
    try:
        if flag.kind == "bool":
            return _parse_bool(raw)
        if flag.kind == "int":
            return parse_go_int(raw)
        if flag.kind == "dur":
            return parse_duration(raw)
        if flag.kind == "list":
            return [p for p in raw.split(",") if p]
        return raw
    except ValueError as e:
        raise CtlError(f'invalid argument "{raw}" for "--{flag.name}" flag: {e}') from None


def _lookup(flags: list[Flag], name: str = "", short: str = "") -> Flag | None:
    for f in flags:
        if (name and f.name == name) or (short and f.short == short):
            return f
    return None


def split_argv(argv: list[str], all_flags: list[Flag]) -> tuple[list[str], list[tuple[Flag, str]]]:
    """Split argv into positionals and (flag, raw value) pairs, pflag style (flags anywhere)."""
    positionals: list[str] = []
    given: list[tuple[Flag, str]] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        i += 1
        if tok == "--":
            positionals.extend(argv[i:])
            break
        if tok.startswith("--"):
            name, eq, value = tok[2:].partition("=")
            flag = _lookup(all_flags, name=name)
            if flag is None:
                raise CtlError(f"unknown flag: --{name}")
        elif tok.startswith("-") and len(tok) > 1:
            flag = _lookup(all_flags, short=tok[1])
            if flag is None:
                raise CtlError(f"unknown shorthand flag: '{tok[1]}' in {tok}")
            rest = tok[2:]
            eq, value = ("=", rest[1:]) if rest.startswith("=") else (("=", rest) if rest else ("", ""))
        else:
            positionals.append(tok)
            continue
        if not eq:
            if flag.kind == "bool":
                value = "true"
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise CtlError(f"flag needs an argument: --{flag.name}")
        given.append((flag, value))
    return positionals, given


def resolve_flags(command: Command, given: list[tuple[Flag, str]]) -> dict[str, Any]:
    """Defaults, then ETCDCTL_* variables for global flags, then the command line."""
    values: dict[str, Any] = {f.name: f.default for f in GLOBAL_FLAGS + command.flags}
    for f in GLOBAL_FLAGS:
        env = os.environ.get("ETCDCTL_" + f.name.upper().replace("-", "_"))
        if env is not None and f.name != "help":
            values[f.name] = _convert(f, env)
    for f, raw in given:
        values[f.name] = _convert(f, raw)
    return values


# ----------------------------------------------------------------------------------------------
# Encoding helpers
# ----------------------------------------------------------------------------------------------

def arg_bytes(s: str) -> bytes:
    """Command-line text back to the exact bytes the shell passed (binary-safe keys and values)."""
    return os.fsencode(s)


def b64e(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def b64d(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def to_int(v: Any) -> int:
    """int64 fields arrive as JSON strings (or are omitted when zero)."""
    return int(v) if v not in (None, "") else 0


def prefix_end(key: bytes) -> bytes:
    """clientv3's GetPrefixRangeEnd: the smallest key greater than every key with this prefix."""
    b = bytearray(key)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\x00"


def key_range(key: bytes, range_end: bytes | None, prefix: bool, from_key: bool) -> tuple[bytes, bytes]:
    """etcdctl's key/option rules: an empty key with --prefix or --from-key means every key."""
    if prefix or from_key:
        if not key:
            return b"\x00", b"\x00"
        return key, prefix_end(key) if prefix else b"\x00"
    return key, range_end or b""


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(), as etcdctl prints `took`."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return sign + _trim(f"{ns / 1e3:.3f}") + "µs"
    if ns < 1_000_000_000:
        return sign + _trim(f"{ns / 1e6:.6f}") + "ms"
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    secs = _trim(f"{rem // 10**9}.{rem % 10**9:09d}")
    return sign + (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + secs + "s"


def _trim(num: str) -> str:
    return num.rstrip("0").rstrip(".") if "." in num else num


def humanize_bytes(n: int) -> str:
    """go-humanize's Bytes (SI units), as etcdctl prints DB SIZE."""
    if n < 10:
        return f"{n} B"
    sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    e = math.floor(math.log(n) / math.log(1000))
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    return (f"{val:.1f} {sizes[e]}" if val < 10 else f"{val:.0f} {sizes[e]}")


def go_json(obj: Any) -> str:
    """encoding/json.Marshal's text: compact, UTF-8 kept, HTML characters escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


# ----------------------------------------------------------------------------------------------
# Go-shaped JSON: the gateway's proto3 JSON (int64 as strings) re-emitted as etcdctl's
# encoding/json of the Go structs (numbers, Go field order, omitempty).
# ----------------------------------------------------------------------------------------------

Schema = list[tuple[str, Any]]


@dataclass(frozen=True)
class ListOf:
    """A repeated field: of a message schema, or of plain strings (`str`)."""

    item: Any

HEADER: Schema = [("cluster_id", int), ("member_id", int), ("revision", int), ("raft_term", int)]
KV: Schema = [("key", str), ("create_revision", int), ("mod_revision", int), ("version", int),
              ("value", str), ("lease", int)]
MEMBER: Schema = [("ID", int), ("name", str), ("peerURLs", ListOf(str)), ("clientURLs", ListOf(str)), ("isLearner", bool)]
STATUS: Schema = [("header", HEADER), ("version", str), ("dbSize", int), ("leader", int), ("raftIndex", int),
                  ("raftTerm", int), ("raftAppliedIndex", int), ("errors", ListOf(str)), ("dbSizeInUse", int),
                  ("isLearner", bool)]
RANGE: Schema = [("header", HEADER), ("kvs", ListOf(KV)), ("more", bool), ("count", int)]
PUT: Schema = [("header", HEADER), ("prev_kv", KV)]
DELETE: Schema = [("header", HEADER), ("deleted", int), ("prev_kvs", ListOf(KV))]
MEMBERS: Schema = [("header", HEADER), ("members", ListOf(MEMBER))]
HEADER_ONLY: Schema = [("header", HEADER)]
EVENT_TYPES = {"PUT": 0, "DELETE": 1}


def shape(msg: dict | None, schema: Schema) -> dict:
    """Pick `schema`'s fields from a gateway message in Go order, typed, zero values omitted."""
    out: dict[str, Any] = {}
    for name, kind in schema:
        value = (msg or {}).get(name)
        if value in (None, "", [], {}, 0, "0", False):
            continue
        if isinstance(kind, ListOf):
            out[name] = [shape(v, kind.item) if isinstance(kind.item, list) else v for v in value]
        elif isinstance(kind, list):
            out[name] = shape(value, kind)
        elif kind is int:
            out[name] = int(value)
        else:
            out[name] = value
    return out


def event_json(ev: dict) -> dict:
    """mvccpb.Event as Go marshals it: the type as a number, omitted for PUT."""
    out: dict[str, Any] = {}
    kind = EVENT_TYPES.get(ev.get("type", "PUT"), ev.get("type"))
    if kind:
        out["type"] = kind
    if ev.get("kv"):
        out["kv"] = shape(ev["kv"], KV)
    if ev.get("prev_kv"):
        out["prev_kv"] = shape(ev["prev_kv"], KV)
    return out


def flat_header(msg: dict) -> dict:
    """clientv3 responses embed *ResponseHeader, so its fields sit at the top level."""
    return shape(msg.get("header"), HEADER)


# ----------------------------------------------------------------------------------------------
# Transport
# ----------------------------------------------------------------------------------------------

def endpoint_url(ep: str) -> str:
    return ep.rstrip("/") if "://" in ep else "http://" + ep.rstrip("/")


def _error_from_response(resp: httpx.Response, path: str) -> ServerError:
    """Turn a gateway error body into etcdctl's message (the gRPC status description)."""
    try:
        body = resp.json()
        return ServerError(body.get("message") or body.get("error") or resp.reason_phrase, int(body.get("code", 2)))
    except (ValueError, AttributeError):
        text = resp.text.strip() or resp.reason_phrase
        return ServerError(f"rpc error: code = Unimplemented desc = {path}: HTTP {resp.status_code} {text}", 12)


class Gateway:
    """Unary and streaming calls to an etcd v3 JSON gateway, with failover between endpoints.

    A request moves to the next endpoint only when it could not be delivered (connect failure),
    so a write is never sent twice; reads are also retried when a connection breaks mid-answer.
    Like clientv3, it keeps cycling through the endpoints until the command timeout expires.
    """

    def __init__(self, endpoints: list[str], dial_timeout: float, command_timeout: float,
                 tls: dict[str, Any] | None = None) -> None:
        self.endpoints = endpoints or ["127.0.0.1:2379"]
        self.dial_timeout = dial_timeout or 2.0
        self.command_timeout = command_timeout or 5.0
        self.tls = tls or {}
        self.current = 0
        self._clients: dict[str, httpx.Client] = {}

    def client(self, ep: str, read_timeout: float | None = None) -> httpx.Client:
        key = f"{ep}|{read_timeout}"
        if key not in self._clients:
            timeout = httpx.Timeout(read_timeout, connect=self.dial_timeout)
            self._clients[key] = httpx.Client(timeout=timeout, trust_env=False, **self.tls)
        return self._clients[key]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()

    def call_at(self, ep: str, path: str, body: dict, timeout: float | None = None) -> dict:
        """One unary call to one endpoint; raises httpx transport errors unchanged."""
        t = timeout if timeout is not None else self.command_timeout
        resp = self.client(ep, t).post(endpoint_url(ep) + path, content=json.dumps(body).encode())
        if resp.status_code != 200:
            raise _error_from_response(resp, path)
        return resp.json() if resp.content.strip() else {}

    def call(self, path: str, body: dict, idempotent: bool = False) -> dict:
        """A unary call on the first endpoint that answers, within the command timeout."""
        deadline = time.monotonic() + self.command_timeout
        backoff = 0.05
        while True:
            for _ in range(len(self.endpoints)):
                ep = self.endpoints[self.current]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ServerError(DEADLINE, 4)
                try:
                    return self.call_at(ep, path, body, timeout=remaining)
                except (httpx.ConnectError, httpx.ConnectTimeout):
                    self.current = (self.current + 1) % len(self.endpoints)
                except httpx.TimeoutException:
                    raise ServerError(DEADLINE, 4) from None
                except httpx.TransportError:
                    if not idempotent:
                        raise ServerError("rpc error: code = Unavailable desc = transport is closing", 14) from None
                    self.current = (self.current + 1) % len(self.endpoints)
            pause = min(backoff, deadline - time.monotonic())
            if pause <= 0:
                raise ServerError(DEADLINE, 4)
            time.sleep(pause)  # every endpoint refused: back off before the next round, as gRPC does
            backoff = min(backoff * 2, 0.5)

    def stream(self, path: str, body: dict, read_timeout: float | None = None) -> Iterator[dict]:
        """Open a streaming call on the first endpoint that accepts it; yield each result object.

        Raises httpx.TransportError when the stream breaks, so the caller can resume elsewhere.
        A watch waits for events without limit; a keepalive answers at once, so it gets a timeout.
        """
        deadline = time.monotonic() + self.command_timeout
        last: Exception | None = None
        for _ in range(len(self.endpoints)):
            ep = self.endpoints[self.current]
            try:
                with self.client(ep, read_timeout).stream("POST", endpoint_url(ep) + path,
                                                 content=json.dumps(body).encode()) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        raise _error_from_response(resp, path)
                    for line in resp.iter_lines():
                        if line.strip():
                            yield json.loads(line)
                    return
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                last = e
                self.current = (self.current + 1) % len(self.endpoints)
                if time.monotonic() > deadline:
                    break
        raise httpx.ConnectError(str(last) if last else DEADLINE)


# ----------------------------------------------------------------------------------------------
# Output writers
# ----------------------------------------------------------------------------------------------

def wrap_words(words: list[str], lim: int, pen: int = 100_000) -> list[list[str]]:
    """tablewriter's minimal-raggedness line breaking (cells longer than 30 columns wrap)."""
    n = len(words)
    length = [[0] * n for _ in range(n)]
    for i in range(n):
        length[i][i] = len(words[i])
        for j in range(i + 1, n):
            length[i][j] = length[i][j - 1] + 1 + len(words[j])
    nbrk, cost = [0] * n, [2**31 - 1] * n
    for i in range(n - 1, -1, -1):
        if length[i][n - 1] <= lim:
            cost[i], nbrk[i] = 0, n
            continue
        for j in range(i + 1, n):
            d = lim - length[i][j - 1]
            c = d * d + cost[j] + (pen if length[i][j - 1] > lim else 0)
            if c < cost[i]:
                cost[i], nbrk[i] = c, j
    lines, i = [], 0
    while i < n:
        lines.append(words[i:nbrk[i]])
        i = nbrk[i]
    return lines


def cell_lines(text: str, max_width: int = 30) -> list[str]:
    if len(text) <= max_width:
        return [text]
    words = text.replace("\n", " ").split(" ")
    lim = max([max_width] + [len(w) for w in words])
    return [" ".join(line) for line in wrap_words(words, lim)]


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """olekukonko/tablewriter as etcdctl configures it: centred header, right-aligned cells."""
    cells = [[cell_lines(c) for c in row] for row in rows]
    widths = [len(h) for h in header]
    for row in cells:
        for i, lines in enumerate(row):
            widths[i] = max([widths[i]] + [len(s) for s in lines])
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def centre(s: str, w: int) -> str:
        gap = w - len(s)
        return " " * (gap // 2) + s + " " * (gap - gap // 2)

    out = [sep, "| " + " | ".join(centre(h, w) for h, w in zip(header, widths)) + " |", sep]
    for row in cells:
        for k in range(max(len(lines) for lines in row) if row else 0):
            parts = [(lines[k] if k < len(lines) else "").rjust(w) for lines, w in zip(row, widths)]
            out.append("| " + " | ".join(parts) + " |")
    out.append(sep)
    return "\n".join(out) + "\n"


class Output:
    """Writes bytes to stdout (keys and values are arbitrary bytes, not text)."""

    def __init__(self, fmt: str, hex_mode: bool) -> None:
        self.fmt = fmt
        self.hex = hex_mode
        self.value_only = False

    @staticmethod
    def write(data: bytes | str) -> None:
        sys.stdout.buffer.write(data.encode() if isinstance(data, str) else data)

    def line(self, text: str | bytes) -> None:
        self.write(text)
        self.write(b"\n")

    def flush(self) -> None:
        sys.stdout.buffer.flush()

    def json(self, obj: Any) -> None:
        self.line(go_json(obj))

    def unsupported_table(self) -> None:
        if self.fmt == "table":
            raise CtlError("table not supported as output format", EXIT_BAD_FEATURE)

    def bytes_text(self, b: bytes) -> bytes:
        return "".join(f"\\x{c:02x}" for c in b).encode() if self.hex else b

    def kv(self, kv: dict) -> None:
        """printKV: the key on one line (unless value-only), the value on the next."""
        if not self.value_only:
            self.line(self.bytes_text(b64d(kv.get("key"))))
        self.line(self.bytes_text(b64d(kv.get("value"))))


def check_format(fmt: str) -> None:
    if fmt not in ("simple", "json", "table"):
        raise CtlError("unsupported output format", EXIT_BAD_FEATURE)


# ----------------------------------------------------------------------------------------------
# KV commands
# ----------------------------------------------------------------------------------------------

SORT_TARGETS = {"": "KEY", "CREATE": "CREATE", "KEY": "KEY", "MODIFY": "MOD", "VALUE": "VALUE", "VERSION": "VERSION"}
SORT_ORDERS = {"": "NONE", "ASCEND": "ASCEND", "DESCEND": "DESCEND"}


def range_request(ctx: Ctx) -> dict:
    """etcdctl get's flags as a RangeRequest, with its argument checks and messages."""
    f, args = ctx.flags, ctx.args
    if not args:
        raise CtlError("get command needs one argument as key and an optional argument as range_end", EXIT_BAD_ARGS)
    if f["prefix"] and f["from-key"]:
        raise CtlError("`--prefix` and `--from-key` cannot be set at the same time, choose one", EXIT_BAD_ARGS)
    if f["keys-only"] and f["count-only"]:
        raise CtlError("`--keys-only` and `--count-only` cannot be set at the same time, choose one", EXIT_BAD_ARGS)
    if f["consistency"] not in ("l", "s"):
        raise CtlError(f'unknown consistency flag "{f["consistency"]}"', EXIT_BAD_FEATURE)
    if len(args) > 1 and (f["prefix"] or f["from-key"]):
        raise CtlError("too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
                       EXIT_BAD_ARGS)
    order, target = f["order"].upper(), f["sort-by"].upper()
    if order not in SORT_ORDERS:
        raise CtlError(f"bad sort order {f['order']}", EXIT_BAD_FEATURE)
    if target not in SORT_TARGETS:
        raise CtlError(f"bad sort target {f['sort-by']}", EXIT_BAD_FEATURE)
    if SORT_TARGETS[target] == "KEY" and order == "ASCEND":
        order = ""  # clientv3.WithSort: keys already come ascending
    key, end = key_range(arg_bytes(args[0]), arg_bytes(args[1]) if len(args) > 1 else None,
                         f["prefix"], f["from-key"])
    req: dict[str, Any] = {"key": b64e(key), "sort_order": SORT_ORDERS[order], "sort_target": SORT_TARGETS[target]}
    if end:
        req["range_end"] = b64e(end)
    for name, flag in (("limit", "limit"), ("revision", "rev")):
        if f[flag] > 0:
            req[name] = str(f[flag])
    for name, flag in (("keys_only", "keys-only"), ("count_only", "count-only")):
        if f[flag]:
            req[name] = True
    if f["consistency"] == "s":
        req["serializable"] = True
    return req


def cmd_get(ctx: Ctx) -> None:
    resp = ctx.gw.call("/v3/kv/range", range_request(ctx), idempotent=True)
    out, f = ctx.out, ctx.flags
    if f["print-value-only"]:
        if out.fmt != "simple":
            raise CtlError("print-value-only is only for `--write-out=simple`", EXIT_BAD_ARGS)
        out.value_only = True
    if out.fmt == "json":
        out.json(shape(resp, RANGE))
        return
    out.unsupported_table()
    if f["count-only"]:
        out.line(str(to_int(resp.get("count"))))
        return
    for kv in resp.get("kvs", []):
        out.kv(kv)


def stdin_value() -> bytes:
    """argOrStdin: the whole of stdin, which must not be empty."""
    data = b"" if sys.stdin is None or sys.stdin.closed else sys.stdin.buffer.read()
    if not data:
        raise CtlError("put command needs 1 argument and input from stdin or 2 arguments", EXIT_BAD_ARGS)
    return data


def lease_arg(text: str, what: str = "bad lease ID arg") -> int:
    """Lease IDs are given in hex, as etcdctl prints them."""
    try:
        return parse_go_int(text, 16)
    except ValueError as e:
        raise CtlError(f"{what} ({e}), expecting ID in Hex", EXIT_BAD_ARGS) from None


def cmd_put(ctx: Ctx) -> None:
    f, args = ctx.flags, ctx.args
    if not args:
        raise CtlError("put command needs 1 argument and input from stdin or 2 arguments", EXIT_BAD_ARGS)
    if f["ignore-value"] and len(args) > 1:
        raise CtlError("put command needs only 1 argument when 'ignore-value' is set", EXIT_BAD_ARGS)
    req: dict[str, Any] = {"key": b64e(arg_bytes(args[0]))}
    if not f["ignore-value"]:
        req["value"] = b64e(arg_bytes(args[1]) if len(args) > 1 else stdin_value())
    lease = lease_arg(f["lease"], "bad lease ID")
    if lease:
        req["lease"] = str(lease)
    for name, flag in (("prev_kv", "prev-kv"), ("ignore_value", "ignore-value"), ("ignore_lease", "ignore-lease")):
        if f[flag]:
            req[name] = True
    resp = ctx.gw.call("/v3/kv/put", req)
    if ctx.out.fmt == "json":
        ctx.out.json(shape(resp, PUT))
        return
    ctx.out.unsupported_table()
    ctx.out.line("OK")
    if resp.get("prev_kv"):
        ctx.out.kv(resp["prev_kv"])


def cmd_del(ctx: Ctx) -> None:
    f, args = ctx.flags, ctx.args
    if not args or len(args) > 2:
        raise CtlError("del command needs one argument as key and an optional argument as range_end", EXIT_BAD_ARGS)
    if f["prefix"] and f["from-key"]:
        raise CtlError("`--prefix` and `--from-key` cannot be set at the same time, choose one", EXIT_BAD_ARGS)
    if len(args) > 1 and (f["prefix"] or f["from-key"]):
        raise CtlError("too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
                       EXIT_BAD_ARGS)
    key, end = key_range(arg_bytes(args[0]), arg_bytes(args[1]) if len(args) > 1 else None,
                         f["prefix"], f["from-key"])
    req: dict[str, Any] = {"key": b64e(key)}
    if end:
        req["range_end"] = b64e(end)
    if f["prev-kv"]:
        req["prev_kv"] = True
    resp = ctx.gw.call("/v3/kv/deleterange", req)
    if ctx.out.fmt == "json":
        ctx.out.json(shape(resp, DELETE))
        return
    ctx.out.unsupported_table()
    ctx.out.line(str(to_int(resp.get("deleted"))))
    for kv in resp.get("prev_kvs", []):
        ctx.out.kv(kv)


def cmd_compaction(ctx: Ctx) -> None:
    if len(ctx.args) != 1:
        raise CtlError("compaction command needs 1 argument", EXIT_BAD_ARGS)
    try:
        rev = parse_go_int(ctx.args[0])
    except ValueError as e:
        raise CtlError(str(e)) from None
    req: dict[str, Any] = {"revision": str(rev)}
    if ctx.flags["physical"]:
        req["physical"] = True
    ctx.gw.call("/v3/kv/compaction", req)
    ctx.out.line(f"compacted revision {rev}")


# ----------------------------------------------------------------------------------------------
# Watch
# ----------------------------------------------------------------------------------------------

def watch_request(ctx: Ctx) -> dict:
    f, args = ctx.flags, list(ctx.args)
    env_key, env_end = os.environ.get("ETCDCTL_WATCH_KEY", ""), os.environ.get("ETCDCTL_WATCH_RANGE_END", "")
    if not env_key and env_end:
        raise CtlError(f'ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END="{env_end}"', EXIT_BAD_ARGS)
    if env_key and not args:
        args = [env_key] + ([env_end] if env_end else [])
    if not args or len(args) > 2:
        raise CtlError("bad number of arguments", EXIT_BAD_ARGS)
    if len(args) == 2 and f["prefix"]:
        raise CtlError("`range_end` and `--prefix` are mutually exclusive", EXIT_BAD_ARGS)
    key, end = key_range(arg_bytes(args[0]), arg_bytes(args[1]) if len(args) > 1 else None, f["prefix"], False)
    req: dict[str, Any] = {"key": b64e(key)}
    if end:
        req["range_end"] = b64e(end)
    if f["rev"] > 0:
        req["start_revision"] = str(f["rev"])
    if f["prev-kv"]:
        req["prev_kv"] = True
    return req


def watch_cancel_reason(res: dict) -> str:
    """clientv3 WatchResponse.Err() for a cancelled watch."""
    if to_int(res.get("compact_revision")):
        return "etcdserver: mvcc: required revision has been compacted"
    return res.get("cancel_reason") or "etcdserver: mvcc: required revision is a future revision"


def print_watch(out: Output, res: dict) -> None:
    if out.fmt == "json":
        events = [event_json(e) for e in res.get("events", [])] or None
        out.json({"Header": shape(res.get("header"), HEADER), "Events": events,
                  "CompactRevision": to_int(res.get("compact_revision")),
                  "Canceled": bool(res.get("canceled")), "Created": False})
    else:
        for ev in res.get("events", []):
            out.line(ev.get("type", "PUT"))
            if ev.get("prev_kv"):
                out.kv(ev["prev_kv"])
            out.kv(ev.get("kv", {}))
    out.flush()


def cmd_watch(ctx: Ctx) -> None:
    """Stream events until interrupted; on a broken stream resume after the last revision seen."""
    req = watch_request(ctx)
    ctx.out.unsupported_table()
    next_rev = to_int(req.get("start_revision"))
    backoff = 0.1
    while True:
        if next_rev:
            req["start_revision"] = str(next_rev)
        try:
            for msg in ctx.gw.stream("/v3/watch", {"create_request": req}):
                if "error" in msg:
                    raise ServerError(msg["error"].get("message", "watch failed"))
                res = msg.get("result", {})
                if res.get("created") and not res.get("canceled"):
                    next_rev = next_rev or to_int(res.get("header", {}).get("revision")) + 1
                    continue
                for ev in res.get("events", []):
                    next_rev = max(next_rev, to_int(ev.get("kv", {}).get("mod_revision")) + 1)
                if res.get("canceled"):
                    sys.stderr.write(f"watch was canceled ({watch_cancel_reason(res)})\n")
                    print_watch(ctx.out, res)
                    raise CtlError("watch is canceled by the server", EXIT_INTERRUPTED)
                if res.get("events"):
                    print_watch(ctx.out, res)
            backoff = 0.1
            time.sleep(backoff)  # the member ended the stream: reconnect, but never in a hot loop
        except (httpx.RemoteProtocolError, httpx.ReadError):
            continue  # the member went away: resume at once on the next endpoint
        except httpx.TransportError:
            # no endpoint accepts the watch: like clientv3, keep trying until interrupted
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
        ctx.gw.current = (ctx.gw.current + 1) % len(ctx.gw.endpoints)


# ----------------------------------------------------------------------------------------------
# Leases
# ----------------------------------------------------------------------------------------------

def one_arg(ctx: Ctx, message: str) -> str:
    if len(ctx.args) != 1:
        raise CtlError(message, EXIT_BAD_ARGS)
    return ctx.args[0]


def cmd_lease_grant(ctx: Ctx) -> None:
    arg = one_arg(ctx, "lease grant command needs TTL argument")
    try:
        ttl = parse_go_int(arg)
    except ValueError as e:
        raise CtlError(f"bad TTL ({e})", EXIT_BAD_ARGS) from None
    try:
        resp = ctx.gw.call("/v3/lease/grant", {"TTL": str(ttl)})
    except ServerError as e:
        raise CtlError(f"failed to grant lease ({e.message})") from None
    lid, granted = to_int(resp.get("ID")), to_int(resp.get("TTL"))
    if ctx.out.fmt == "json":
        ctx.out.json({**flat_header(resp), "ID": lid, "TTL": granted, "Error": resp.get("error", "")})
        return
    ctx.out.unsupported_table()
    ctx.out.line(f"lease {lid:016x} granted with TTL({granted}s)")


def cmd_lease_revoke(ctx: Ctx) -> None:
    lid = lease_arg(one_arg(ctx, "lease revoke command needs 1 argument"))
    try:
        resp = ctx.gw.call("/v3/lease/revoke", {"ID": str(lid)})
    except ServerError as e:
        raise CtlError(f"failed to revoke lease ({e.message})") from None
    if ctx.out.fmt == "json":
        ctx.out.json(shape(resp, HEADER_ONLY))
        return
    ctx.out.unsupported_table()
    ctx.out.line(f"lease {lid:016x} revoked")


def cmd_lease_timetolive(ctx: Ctx) -> None:
    lid = lease_arg(one_arg(ctx, "lease timetolive command needs lease ID as argument"))
    req: dict[str, Any] = {"ID": str(lid)}
    if ctx.flags["keys"]:
        req["keys"] = True
    try:
        resp = ctx.gw.call("/v3/lease/timetolive", req, idempotent=True)
    except ServerError as e:
        raise CtlError(e.message, EXIT_BAD_CONNECTION) from None
    ttl, granted, keys = to_int(resp.get("TTL")), to_int(resp.get("grantedTTL")), resp.get("keys") or []
    if ctx.out.fmt == "json":
        ctx.out.json({**flat_header(resp), "id": lid, "ttl": ttl, "granted-ttl": granted, "keys": keys or None})
        return
    ctx.out.unsupported_table()
    if granted == 0 and ttl == -1:
        ctx.out.line(f"lease {lid:016x} already expired")
        return
    text = f"lease {lid:016x} granted with TTL({granted}s), remaining({ttl}s)".encode()
    if ctx.flags["keys"]:
        text += b", attached keys([" + b" ".join(b64d(k) for k in keys) + b"])"
    ctx.out.line(text)


def cmd_lease_list(ctx: Ctx) -> None:
    resp = ctx.gw.call("/v3/lease/leases", {}, idempotent=True)
    ids = [to_int(item.get("ID")) for item in resp.get("leases", [])]
    if ctx.out.fmt == "json":
        ctx.out.json({**flat_header(resp), "leases": [{"id": i} for i in ids]})
        return
    ctx.out.unsupported_table()
    ctx.out.line(f"found {len(ids)} leases")
    for i in ids:
        ctx.out.line(f"{i:016x}")


def keepalive_once(gw: Gateway, lid: int) -> dict:
    """One renewal over the streaming keepalive call: one request object, one result line."""
    for msg in gw.stream("/v3/lease/keepalive", {"ID": str(lid)}, read_timeout=gw.command_timeout):
        if "error" in msg:
            raise ServerError(msg["error"].get("message", "keepalive failed"))
        return msg.get("result", {})
    raise ServerError("etcdserver: no keepalive response")


def print_keepalive(out: Output, res: dict, lid: int) -> None:
    if out.fmt == "json":
        out.json({**flat_header(res), "ID": lid, "TTL": to_int(res.get("TTL"))})
    else:
        out.unsupported_table()
        out.line(f"lease {lid:016x} keepalived with TTL({to_int(res.get('TTL'))})")
    out.flush()


def cmd_lease_keepalive(ctx: Ctx) -> None:
    """Renew at a third of the TTL, as clientv3 does, until the lease is gone or Ctrl-C."""
    lid = lease_arg(one_arg(ctx, "lease keep-alive command needs lease ID as argument"))
    try:
        if ctx.flags["once"]:
            res = keepalive_once(ctx.gw, lid)
            if to_int(res.get("TTL")) <= 0:
                raise ServerError("etcdserver: requested lease not found")
            print_keepalive(ctx.out, res, lid)
            return
        while True:
            res = keepalive_once(ctx.gw, lid)
            ttl = to_int(res.get("TTL"))
            if ttl <= 0:
                break
            print_keepalive(ctx.out, res, lid)
            time.sleep(ttl / 3.0)  # clientv3's renewal period
    except ServerError as e:
        raise CtlError(e.message, EXIT_BAD_CONNECTION) from None
    except httpx.TransportError:
        raise CtlError(DEADLINE, EXIT_BAD_CONNECTION) from None
    if ctx.out.fmt == "simple":
        ctx.out.line(f"lease {lid:016x} expired or revoked.")


# ----------------------------------------------------------------------------------------------
# Cluster, endpoints, version
# ----------------------------------------------------------------------------------------------

MEMBER_HEADER = ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"]
STATUS_HEADER = ["ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM", "RAFT INDEX",
                 "RAFT APPLIED INDEX", "ERRORS"]
HEALTH_HEADER = ["ENDPOINT", "HEALTH", "TOOK", "ERROR"]


def member_rows(resp: dict) -> list[list[str]]:
    rows = []
    for m in resp.get("members", []):
        rows.append([f"{to_int(m.get('ID')):x}", "started" if m.get("name") else "unstarted", m.get("name", ""),
                     ",".join(m.get("peerURLs", [])), ",".join(m.get("clientURLs", [])),
                     "true" if m.get("isLearner") else "false"])
    return rows


def print_rows(out: Output, header: list[str], rows: list[list[str]]) -> None:
    if out.fmt == "table":
        out.write(render_table(header, rows))
    else:
        for row in rows:
            out.line(", ".join(row))


def cmd_member_list(ctx: Ctx) -> None:
    resp = ctx.gw.call("/v3/cluster/member/list", {}, idempotent=True)
    if ctx.out.fmt == "json":
        ctx.out.json(shape(resp, MEMBERS))
        return
    print_rows(ctx.out, MEMBER_HEADER, member_rows(resp))


def cluster_endpoints(ctx: Ctx) -> list[str]:
    """--cluster: every member's client URLs, from the member list."""
    if not ctx.flags["cluster"]:
        return ctx.gw.endpoints
    try:
        resp = ctx.gw.call("/v3/cluster/member/list", {}, idempotent=True)
    except ServerError as e:
        raise CtlError(f"failed to fetch endpoints from etcd cluster member list: {e.message}") from None
    return [url for m in resp.get("members", []) for url in m.get("clientURLs", [])]


def status_row(ep: str, st: dict) -> list[str]:
    member = to_int(st.get("header", {}).get("member_id"))
    return [ep, f"{member:x}", st.get("version", ""), humanize_bytes(to_int(st.get("dbSize"))),
            str(to_int(st.get("leader")) == member).lower(), str(bool(st.get("isLearner"))).lower(),
            str(to_int(st.get("raftTerm"))), str(to_int(st.get("raftIndex"))),
            str(to_int(st.get("raftAppliedIndex"))), ", ".join(st.get("errors", []))]


def fetch_status(gw: Gateway, ep: str) -> dict:
    try:
        return gw.call_at(ep, "/v3/maintenance/status", {})
    except httpx.TransportError:
        raise ServerError(DEADLINE) from None


def cmd_endpoint_status(ctx: Ctx) -> None:
    statuses: list[tuple[str, dict]] = []
    failed = False
    for ep in cluster_endpoints(ctx):
        try:
            statuses.append((ep, fetch_status(ctx.gw, ep)))
        except ServerError as e:
            failed = True
            sys.stderr.write(f"Failed to get the status of endpoint {ep} ({e.message})\n")
    if ctx.out.fmt == "json":
        ctx.out.json([{"Endpoint": ep, "Status": shape(st, STATUS)} for ep, st in statuses])
    else:
        print_rows(ctx.out, STATUS_HEADER, [status_row(ep, st) for ep, st in statuses])
    if failed:
        raise CtlError("unhealthy cluster")


def has_alarms(gw: Gateway, ep: str) -> str:
    """The alarm part of etcdctl's health check. A gateway without the alarm call has none."""
    try:
        resp = gw.call_at(ep, "/v3/maintenance/alarm", {"action": "GET"})
    except ServerError as e:
        return "" if e.grpc_code == 12 else "Unable to fetch the alarm list"
    except httpx.TransportError:
        return "Unable to fetch the alarm list"
    alarms = resp.get("alarms", [])
    if not alarms:
        return ""
    names = {"NOSPACE": "NOSPACE ", "CORRUPT": "CORRUPT "}
    return "Active Alarm(s): " + "".join(names.get(a.get("alarm"), "UNKNOWN ") for a in alarms)


def check_health(gw: Gateway, ep: str) -> dict:
    """etcdctl's probe: a linearizable get of "health" (it goes through consensus), then alarms."""
    gw.client(ep, gw.command_timeout)  # build the HTTP client (TLS context) outside the timing
    start = time.perf_counter_ns()
    health: dict[str, Any] = {"endpoint": ep, "health": False}
    try:
        gw.call_at(ep, "/v3/kv/range", {"key": b64e(b"health")}, timeout=gw.command_timeout)
        health["health"] = True
    except ServerError as e:
        health["error"] = e.message
    except httpx.TransportError:
        health["error"] = DEADLINE
    health["took"] = go_duration(time.perf_counter_ns() - start)
    if health["health"]:
        alarm = has_alarms(gw, ep)
        if alarm:
            health.update(health=False, error=alarm)
    return {"endpoint": ep, "health": health["health"], "took": health["took"],
            **({"error": health["error"]} if health.get("error") else {})}


def cmd_endpoint_health(ctx: Ctx) -> None:
    """Probe every endpoint concurrently; report in completion order, as etcdctl does."""
    results: queue.Queue[dict] = queue.Queue()
    endpoints = cluster_endpoints(ctx)
    workers = [threading.Thread(target=lambda e=ep: results.put(check_health(Gateway([e], ctx.gw.dial_timeout,
                                                                                    ctx.gw.command_timeout,
                                                                                    ctx.gw.tls), e)),
                                daemon=True) for ep in endpoints]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    health = [results.get() for _ in endpoints]
    if ctx.out.fmt == "json":
        ctx.out.json(health)
    elif ctx.out.fmt == "table":
        ctx.out.write(render_table(HEALTH_HEADER, [[h["endpoint"], str(h["health"]).lower(), h["took"],
                                                    h.get("error", "")] for h in health]))
    else:
        for h in health:
            if h.get("error"):
                sys.stderr.write(f"{h['endpoint']} is unhealthy: failed to commit proposal: {h['error']}\n")
            else:
                sys.stderr.write(f"{h['endpoint']} is healthy: successfully committed proposal: took = {h['took']}\n")
    if any(h.get("error") for h in health):
        raise CtlError("unhealthy cluster")


def cmd_version(ctx: Ctx) -> None:
    ctx.out.line(f"etcdctl version: {ETCDCTL_VERSION}")
    ctx.out.line(f"API version: {API_VERSION}")


# ----------------------------------------------------------------------------------------------
# Command table, help, main
# ----------------------------------------------------------------------------------------------

def _b(name: str, text: str) -> Flag:
    return Flag(name, "bool", False, text)


COMMANDS: list[Command] = [
    Command(("get",), "get [options] <key> [range_end]", "Gets the key or a range of keys", [
        Flag("consistency", "str", "l", "Linearizable(l) or Serializable(s)"),
        Flag("order", "str", "", "Order of results; ASCEND or DESCEND (ASCEND by default)"),
        Flag("sort-by", "str", "", "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION"),
        Flag("limit", "int", 0, "Maximum number of results"),
        _b("prefix", "Get keys with matching prefix"),
        _b("from-key", "Get keys that are greater than or equal to the given key using byte compare"),
        Flag("rev", "int", 0, "Specify the kv revision"),
        _b("keys-only", "Get only the keys"),
        _b("count-only", "Get only the count"),
        _b("print-value-only", 'Only write values when using the "simple" output format'),
    ], cmd_get),
    Command(("put",), "put [options] <key> <value> (<value> can also be given from stdin)",
            "Puts the given key into the store", [
                Flag("lease", "str", "0", "lease ID (in hexadecimal) to attach to the key"),
                _b("prev-kv", "return the previous key-value pair before modification"),
                _b("ignore-value", "updates the key using its current value"),
                _b("ignore-lease", "updates the key using its current lease"),
            ], cmd_put),
    Command(("del",), "del [options] <key> [range_end]", "Removes the specified key or range of keys [key, range_end)", [
        _b("prefix", "delete keys with matching prefix"),
        _b("prev-kv", "return deleted key-value pairs"),
        _b("from-key", "delete keys that are greater than or equal to the given key using byte compare"),
    ], cmd_del),
    Command(("watch",), "watch [options] [key or prefix] [range_end]", "Watches events stream on keys or prefixes", [
        _b("prefix", "Watch on a prefix if prefix is set"),
        Flag("rev", "int", 0, "Revision to start watching"),
        _b("prev-kv", "get the previous key-value pair before the event happens"),
    ], cmd_watch),
    Command(("compaction",), "compaction [options] <revision>", "Compacts the event history in etcd", [
        _b("physical", "'true' to wait for compaction to physically remove all old revisions"),
    ], cmd_compaction),
    Command(("lease", "grant"), "lease grant <ttl>", "Creates leases", [], cmd_lease_grant),
    Command(("lease", "revoke"), "lease revoke <leaseID>", "Revokes leases", [], cmd_lease_revoke),
    Command(("lease", "timetolive"), "lease timetolive <leaseID> [options]", "Get lease information",
            [_b("keys", "Get keys attached to this lease")], cmd_lease_timetolive),
    Command(("lease", "list"), "lease list", "List all active leases", [], cmd_lease_list),
    Command(("lease", "keep-alive"), "lease keep-alive [options] <leaseID>", "Keeps leases alive (renew)",
            [_b("once", "Resets the keep-alive time to its original value and exits immediately")],
            cmd_lease_keepalive),
    Command(("member", "list"), "member list", "Lists all members in the cluster", [], cmd_member_list),
    Command(("endpoint", "status"), "endpoint status", "Prints out the status of endpoints specified in `--endpoints` flag",
            [_b("cluster", "use all endpoints from the cluster member list")], cmd_endpoint_status),
    Command(("endpoint", "health"), "endpoint health",
            "Checks the healthiness of endpoints specified in `--endpoints` flag",
            [_b("cluster", "use all endpoints from the cluster member list")], cmd_endpoint_health),
    Command(("version",), "version", "Prints the version of etcdctl", [], cmd_version),
]
GROUPS = {"lease": "Lease related commands", "member": "Membership related commands",
          "endpoint": "Endpoint related commands"}


def flag_help(flags: list[Flag]) -> list[str]:
    lines = []
    for f in flags:
        default = ",".join(f.default) if f.kind == "list" else f.default
        if f.kind == "dur":
            default = go_duration(int(f.default * 1e9))
        shown = f"[={str(default).lower()}]" if f.kind == "bool" else f'="{default}"' if f.kind == "str" else f"={default}"
        name = (f"-{f.short}, " if f.short else "    ") + f"--{f.name}{shown}"
        lines.append(f"  {name:<44}{f.help}")
    return lines


def help_text(path: tuple[str, ...]) -> str:
    """Help for the top level, a group (`lease`) or a command, in etcdctl's layout."""
    cmd = next((c for c in COMMANDS if c.path == path), None)
    if cmd is not None:
        lines = ["NAME:", f"\t{' '.join(path)} - {cmd.short}", "", "USAGE:", f"\tetcdctl {cmd.usage} [flags]", ""]
        if cmd.flags:
            lines += ["OPTIONS:", *flag_help(cmd.flags), ""]
        return "\n".join(lines + ["GLOBAL OPTIONS:", *flag_help(GLOBAL_FLAGS), ""]) + "\n"
    subs = [c for c in COMMANDS if c.path[: len(path)] == path and len(c.path) == len(path) + 1]
    if path:
        head = ["NAME:", f"\t{path[0]} - {GROUPS.get(path[0], '')}", "", "USAGE:",
                f"\tetcdctl {path[0]} <subcommand> [flags]"]
    else:
        head = ["NAME:", "\tetcdctl - A simple command line client for etcd3 (kubeling, over the JSON gateway).",
                "", "USAGE:", "\tetcdctl [flags]", "", "VERSION:", f"\t{ETCDCTL_VERSION}"]
        subs = [c for c in COMMANDS if len(c.path) == 1] + [Command((g,), g, t) for g, t in GROUPS.items()]
    body = ["", "API VERSION:", f"\t{API_VERSION}", "", "", "COMMANDS:"]
    body += [f"\t{c.path[-1]:<16}{c.short}" for c in sorted(subs, key=lambda c: c.path)]
    return "\n".join(head + body + ["", "OPTIONS:", *flag_help(GLOBAL_FLAGS), ""]) + "\n"


def find_command(positionals: list[str]) -> tuple[tuple[str, ...], Command | None, list[str]]:
    """The longest command path that prefixes the positionals, and the arguments after it."""
    for n in (2, 1):
        path = tuple(positionals[:n])
        for cmd in COMMANDS:
            if cmd.path == path:
                return path, cmd, positionals[n:]
    return tuple(positionals[:1]), None, positionals[1:]


def all_flags() -> list[Flag]:
    seen: dict[str, Flag] = {f.name: f for f in GLOBAL_FLAGS}
    for cmd in COMMANDS:
        for f in cmd.flags:
            seen.setdefault(f.name, f)
    return list(seen.values())


def tls_options(flags: dict[str, Any]) -> dict[str, Any]:
    """etcdctl's --cacert/--cert/--key/--insecure-skip-tls-verify as one SSL context for httpx."""
    if not (flags["insecure-skip-tls-verify"] or flags["cacert"] or flags["cert"]):
        return {}
    if flags["insecure-skip-tls-verify"]:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=flags["cacert"] or None)
    if flags["cert"]:
        try:
            ctx.load_cert_chain(flags["cert"], flags["key"] or None)
        except (OSError, ssl.SSLError) as e:
            raise CtlError(f"open {flags['cert']}: {e}") from None
    return {"verify": ctx}


def run(argv: list[str]) -> int:
    positionals, given = split_argv(argv, all_flags())
    path, cmd, args = find_command(positionals)
    if any(f.name == "help" for f, _ in given) or cmd is None:
        if cmd is None and path and path[0] not in GROUPS:
            sys.stderr.write(f'Error: unknown command "{path[0]}" for "etcdctl"\nRun \'etcdctl --help\' for usage.\n')
            return EXIT_ERROR
        sys.stdout.write(help_text(path if cmd is None else cmd.path))
        return 0
    allowed = {f.name for f in GLOBAL_FLAGS + cmd.flags}
    for f, _ in given:
        if f.name not in allowed:
            raise CtlError(f"unknown flag: --{f.name}")
    flags = resolve_flags(cmd, given)
    check_format(flags["write-out"])
    gw = Gateway(flags["endpoints"], flags["dial-timeout"], flags["command-timeout"], tls_options(flags))
    try:
        assert cmd.run is not None
        cmd.run(Ctx(args, flags, gw, Output(flags["write-out"], flags["hex"])))
    finally:
        gw.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kubeling etcdctl`: run one command, map failures to etcdctl's exit codes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = run(argv)
    except CtlError as e:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {e.message}\n")
        code = e.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 141  # the reader went away (`| head`): end quietly, as etcdctl dies of SIGPIPE
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = 141
    if code == 141:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return code


if __name__ == "__main__":
    raise SystemExit(main())
