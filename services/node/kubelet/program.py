"""What a fake container *does*: a tiny interpreter for the commands people put in pod specs.

A container's process is its argv (command + args, or the image's entrypoint + cmd). The
interpreter understands the programs that matter in practice and does what they say, in
simulated but observable form:

- `sh -c '<script>'` (also bash/ash): `;`, `&&`, `||`, newlines, `while true|:; do ...; done`,
  `for x in a b; do ...; done`, `$VAR`/`${VAR}`, `$?`, `$(hostname)`, `$(date)`; without `-c` a shell
  has no input and exits 0 at once (why `kubectl run b --image=busybox` completes and restarts);
- `sleep N|infinity`, `echo ...`, `exit N`, `true`, `false`, `date`, `hostname`, `env`,
  `printenv`, `tail -f ...` (forever), `wget`/`curl URL` (a real HTTP GET over loopback), `ls`,
  `cat`, `ps`, `nslookup`;
- the images' servers (nginx, httpd-foreground, redis-server, ...): print their start-up lines
  and serve until stopped;
- programs only some images ship: the control plane's binaries in their registry.k8s.io images
  (`etcd`, `kube-apiserver`, ... stand for the processes `kubeling up` runs on the host and wait
  until stopped) and the etcd image's `etcdctl`, which runs kubeling's etcdctl against the store;
- anything else as PID 1 fails to start (`exec: "x": executable file not found in $PATH`),
  and inside a script prints `sh: x: not found` with status 127.

Signals follow Linux's rule for PID 1: a shell or `sleep` as PID 1 ignores SIGTERM (so the pod
waits out its grace period and ends with 137), servers shut down cleanly with 0.
"""
from __future__ import annotations

import asyncio
import re
import shlex

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import images
from .images import SERVER_BINARIES

SHELLS = {"sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash", "/usr/bin/bash", "/usr/bin/sh"}
GRACEFUL = {"nginx", "httpd-foreground", "redis-server", "memcached", "mysqld", "postgres", "mongod",
            "rabbitmq-server", "/pause", "catalina.sh", "/whoami", "/http-echo"}


class StartError(Exception):
    """The runtime could not exec argv[0] (exit code 128, reason StartError)."""


class OOMKilled(Exception):
    """The process asked for more memory than its cgroup limit: the kernel kills it (137)."""


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@dataclass
class Context:
    """What a process can touch: its log, environment, identity, and the port servers."""
    log: Callable[[str], None]
    env: dict[str, str]
    hostname: str
    serve: Callable[[], Awaitable[None]]  # serve the container's ports until cancelled
    image_ports: tuple[int, ...] = ()
    # cluster DNS: resolve(name) -> (fqdn, [ips]) through the pod's search path; None without DNS
    resolve: Callable[[str], Awaitable[tuple[str, list[str]]]] | None = None
    files: dict[str, str] = field(default_factory=dict)  # the container's writable filesystem (exec probes see it)
    dns_server: str = ""
    pod_ip: str = ""  # containers of a pod share its network: localhost is the pod's own IP
    memory_limit: int = 0  # bytes (resources.limits.memory); 0 = unlimited
    pid1: list[str] = field(default_factory=list)  # the container's main process, for `ps` in exec'd commands
    image: str = ""  # the container's image: which image-specific programs (etcdctl, ...) exist


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def _base(cmd: str) -> str:
    return cmd.rsplit("/", 1)[-1]


class Process:
    def __init__(self, argv: list[str], ctx: Context) -> None:
        if not argv:
            raise StartError("no command specified")
        self.argv = argv
        self.ctx = ctx
        self.terminating = asyncio.Event()
        self.last_status = 0  # `$?`: the exit status of the last command the shell ran
        self._sinks: list[list[str]] = []  # capture stack for pipelines
        first = argv[0]
        if first in ("/docker-entrypoint.sh", "docker-entrypoint.sh") and len(argv) > 1:
            first = argv[1]
        self.handles_term = (first in GRACEFUL or _base(first) in {_base(g) for g in GRACEFUL}
                             or _base(first) in images.binaries(ctx.image))
        self.ignores_term = first in SHELLS or _base(first) in ("sleep", "tail") or first in ("exit", "echo")
        if not self._known(argv):
            raise StartError(f'exec: "{argv[0]}": executable file not found in $PATH')

    def out(self, line: str) -> None:
        """Write a line to stdout: the log, or the pipeline stage capturing it."""
        if self._sinks:
            self._sinks[-1].append(line)
        else:
            self.ctx.log(line)

    # -- signals -------------------------------------------------------------------------------

    def sigterm(self) -> str:
        """Deliver SIGTERM; returns 'exit' (will exit 0), 'ignored', or 'die' (default action, 143)."""
        if self.handles_term:
            self.terminating.set()
            return "exit"
        if self.ignores_term:
            return "ignored"
        return "die"

    # -- running -------------------------------------------------------------------------------

    async def run(self) -> int:
        try:
            return await self._exec(self.argv, pid1=True)
        except _Exit as e:
            return e.code

    def _known(self, argv: list[str]) -> bool:
        a0 = argv[0]
        if a0 in ("/docker-entrypoint.sh", "docker-entrypoint.sh"):
            return len(argv) == 1 or self._known(argv[1:])
        return (a0 in SHELLS or _base(a0) in BUILTINS or a0 in SERVER_BINARIES or _base(a0) in SERVER_BINARIES
                or _base(a0) in ("python", "python3", "node") or a0 in ("/hello",) or self._image_program(a0) is not None)

    def _image_program(self, a0: str) -> "Callable[[Process, list[str]], Awaitable[int]] | None":
        """The program `a0` names if the container's image ships it (etcdctl only in the etcd image)."""
        b = _base(a0)
        if b not in images.binaries(self.ctx.image):
            return None
        return IMAGE_PROGRAMS.get(b)

    async def _exec(self, argv: list[str], pid1: bool = False) -> int:
        a0 = argv[0]
        b = _base(a0)
        if a0 in ("/docker-entrypoint.sh", "docker-entrypoint.sh"):
            return 0 if len(argv) == 1 else await self._exec(argv[1:], pid1)
        if a0 in SHELLS:
            if len(argv) >= 3 and argv[1] in ("-c", "-ec", "-xc", "-lc"):
                return await self.run_script(argv[2])
            if len(argv) >= 2 and not argv[1].startswith("-"):
                self.out(f"{b}: can't open '{argv[1]}': No such file or directory")
                return 2
            return 0  # no stdin, no tty: the shell reads EOF and exits
        if a0 == "/hello":
            for line in HELLO:
                self.out(line)
            return 0
        if a0 in SERVER_BINARIES or b in SERVER_BINARIES or "app.py" in argv:
            return await self._server(argv)
        if b in ("python", "python3", "node"):
            return 0
        fn = BUILTINS.get(b) or self._image_program(a0)
        if fn is None:
            self.out(f"sh: {a0}: not found")
            return 127
        return await fn(self, argv)

    async def _server(self, argv: list[str]) -> int:
        name = _base(argv[0]) if "app.py" not in argv else "app.py"
        for line in STARTUP.get(name, [f"{name} started"]):
            self.out(line.format(ports=",".join(map(str, self.ctx.image_ports)) or "-"))
        serve = asyncio.create_task(self.ctx.serve())
        term = asyncio.create_task(self.terminating.wait())
        try:
            done, _ = await asyncio.wait({serve, term}, return_when=asyncio.FIRST_COMPLETED)
            if serve in done:
                serve.result()  # a port that cannot be bound ends the server with an error
                return 1
            for line in SHUTDOWN.get(name, []):
                self.out(line)
            return 0
        except OSError as e:
            self.out(f"{name}: bind() failed ({e.strerror or e})")
            return 1
        finally:
            serve.cancel()
            term.cancel()

    # -- the shell -----------------------------------------------------------------------------

    def expand(self, s: str) -> str:
        env0 = {**self.ctx.env, "HOSTNAME": self.ctx.hostname}

        def arith(m: re.Match[str]) -> str:
            expr = re.sub(r"\$?([A-Za-z_]\w*)", lambda v: env0.get(v.group(1), "0") or "0", m.group(1))
            if not re.fullmatch(r"[\d\s+\-*/%()]*", expr):
                return "0"
            try:
                return str(int(eval(expr.replace("/", "//"), {"__builtins__": {}}, {})))  # digits and operators only
            except (SyntaxError, ZeroDivisionError, ValueError):
                return "0"
        s = re.sub(r"\$\(\(([^()]*(?:\([^()]*\)[^()]*)*)\)\)", arith, s)

        def sub(m: re.Match[str]) -> str:
            inner = (m.group(1) or m.group(2) or "").strip()
            if inner == "date" or inner.startswith("date "):
                return _now()
            if inner == "hostname":
                return self.ctx.hostname
            return ""
        s = re.sub(r"\$\(([^()]*)\)|`([^`]*)`", sub, s)
        env = {**self.ctx.env, "HOSTNAME": self.ctx.hostname}
        s = s.replace("$?", str(self.last_status))
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), s)

    async def run_script(self, script: str) -> int:
        return await self._run_block(parse_script(script))

    async def _run_block(self, block: list[Any]) -> int:
        status = 0
        for item in block:
            op = item[0]
            if op in ("&&", "||"):
                if (op == "&&") != (status == 0):
                    continue
                item = item[1]
            else:
                item = item[1]
            status = await self._run_item(item, status)
            self.last_status = status
        return status

    async def _run_pipe(self, stages: list[Any]) -> int:
        lines: list[str] = []
        status = 0
        for i, stage in enumerate(stages):
            words = _strip_redirects([self.expand(w) for w in stage[1]]) if stage[0] == "cmd" else []
            if stage[0] == "cmd" and not words:
                continue
            filtered = await _pipe_stage(self, words, lines) if i > 0 and words else None
            if filtered is not None:
                status, lines = filtered
                continue
            self._sinks.append([])
            try:
                status = await (self._exec(words) if words else self._run_item(stage, status))
            finally:
                lines = self._sinks.pop()
        for ln in lines:
            self.out(ln)
        return status

    async def _run_item(self, item: Any, status: int) -> int:
        kind = item[0]
        if kind == "cmd":
            words = [self.expand(w) for w in item[1]]
            words, target = _redirect_target(words)
            words = _strip_redirects(words)
            if target and target[0] not in ("/dev/stdout", "/proc/1/fd/1", "/dev/stderr", "/proc/1/fd/2"):
                self._sinks.append([])
                try:
                    status = await self._run_item(("cmd", words), status) if words else 0
                finally:
                    lines = self._sinks.pop()
                if target[0] != "/dev/null":
                    text = "".join(ln + "\n" for ln in lines)
                    self.ctx.files[target[0]] = (self.ctx.files.get(target[0], "") if target[1] else "") + text
                return status
            while words and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0], re.S):
                k, v = words.pop(0).split("=", 1)  # NAME=value: a shell variable
                self.ctx.env[k] = v
            if not words:
                return 0
            return await self._exec(words)
        if kind == "pipe":
            return await self._run_pipe(item[1])
        if kind == "while":
            _, cond, body = item
            last = 0
            while await self._run_block(cond) == 0:
                last = await self._run_block(body)
                await asyncio.sleep(0)  # a busy loop must not starve the node agent
            return last
        if kind == "for":
            _, var, words, body = item
            last = 0
            for w in words:
                self.ctx.env[var] = self.expand(w)
                last = await self._run_block(body)
            return last
        return status


async def _pipe_stage(p: "Process", words: list[str], lines: list[str]) -> tuple[int, list[str]] | None:
    """The filters people put after a pipe, applied to the captured lines; None if unknown."""
    b = _base(words[0])
    args = words[1:]
    if b in ("head", "tail"):
        n = 10
        for i, a in enumerate(args):
            if a == "-n" and i + 1 < len(args) and args[i + 1].lstrip("-").isdigit():
                n = int(args[i + 1])
            elif re.fullmatch(r"-\d+", a):
                n = int(a[1:])
        return 0, (lines[:n] if b == "head" else lines[-n:] if n else [])
    if b == "grep":
        invert = "-v" in args
        pats = [a for a in args if not a.startswith("-")]
        if not pats:
            return 2, []
        got = [ln for ln in lines if (pats[0] in ln) != invert]
        return (0 if got else 1), got
    if b == "wc" and "-l" in args:
        return 0, [str(len(lines))]
    if b in ("cat", "tee"):
        return 0, lines
    return None


def _redirect_target(words: list[str]) -> tuple[list[str], Any]:
    """`cmd > file` / `cmd >> file`: returns (words without the redirection, (file, append))."""
    for i, w in enumerate(words):
        if w in (">", ">>", "1>") and i + 1 < len(words):
            return words[:i] + words[i + 2:], (words[i + 1], w == ">>")
    return words, None


def _strip_redirects(words: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for w in words:
        if skip:
            skip = False
            continue
        if w in (">", ">>", "<", "2>", "&>", "1>"):
            skip = True
            continue
        if w in ("2>&1", "&"):
            continue
        out.append(w)
    return out


# -- parsing sh scripts ---------------------------------------------------------------------

def _tokens(script: str) -> list[str]:
    lex = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|<>")
    lex.whitespace_split = True
    lex.commenters = ""
    return list(lex)


def parse_script(script: str) -> list[Any]:
    toks = _tokens(script)
    block, pos = _parse_block(toks, 0, ())
    return block


def _parse_block(toks: list[str], i: int, stops: tuple[str, ...]) -> tuple[list[Any], int]:
    block: list[Any] = []
    op = ";"
    words: list[str] = []
    pipeline: list[Any] = []

    def flush() -> None:
        nonlocal words, pipeline
        if pipeline:
            if words:
                pipeline.append(("cmd", words))
            block.append((op, ("pipe", pipeline)))
            pipeline = []
        elif words:
            block.append((op, ("cmd", words)))
        words = []

    while i < len(toks):
        t = toks[i]
        if not words and t in stops:
            return block, i
        if t == "|" and (words or block):
            if words:
                pipeline.append(("cmd", words))
            else:  # a compound command (for/while ... done) feeding a pipe
                op, compound = block.pop()
                pipeline.append(compound)
            words = []
            i += 1
            continue
        if t in (";", "&&", "||", "&"):
            flush()
            op = t if t in ("&&", "||") else ";"
            i += 1
            continue
        if not words and t in ("while", "until"):
            cond, i = _parse_block(toks, i + 1, ("do",))
            body, i = _parse_block(toks, i + 1, ("done",))
            if t == "until":
                cond = [(";", ("cmd", ["!"] + c[1][1])) for c in cond]
            block.append((op, ("while", cond, body)))
            i += 1
            continue
        if not words and t == "for":
            var = toks[i + 1]
            j = i + 2
            items: list[str] = []
            if j < len(toks) and toks[j] == "in":
                j += 1
                while j < len(toks) and toks[j] not in (";", "do"):
                    items.append(toks[j])
                    j += 1
            while j < len(toks) and toks[j] == ";":
                j += 1
            body, j = _parse_block(toks, j + 1, ("done",))
            block.append((op, ("for", var, items, body)))
            i = j + 1
            continue
        words.append(t)
        i += 1
    flush()
    return block, i


# -- builtins -------------------------------------------------------------------------------

async def _sleep(p: Process, argv: list[str]) -> int:
    arg = argv[1] if len(argv) > 1 else ""
    if arg in ("infinity", "inf"):
        await asyncio.Event().wait()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", arg)
    if not m:
        p.out(f"sleep: invalid number '{arg}'")
        return 1
    secs = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    await asyncio.sleep(secs)
    return 0


async def _echo(p: Process, argv: list[str]) -> int:
    args = argv[1:]
    if args and args[0] in ("-n", "-e"):
        args = args[1:]
    p.out(" ".join(args))
    return 0


async def _exit(p: Process, argv: list[str]) -> int:
    try:
        code = int(argv[1]) if len(argv) > 1 else 0
    except ValueError:
        code = 2
    raise _Exit(code & 0xFF)


async def _true(p: Process, argv: list[str]) -> int:
    return 0


async def _false(p: Process, argv: list[str]) -> int:
    return 1


async def _not(p: Process, argv: list[str]) -> int:
    return 0 if await p._exec(argv[1:]) != 0 else 1


async def _date(p: Process, argv: list[str]) -> int:
    p.out(_now())
    return 0


async def _hostname(p: Process, argv: list[str]) -> int:
    p.out(p.ctx.hostname)
    return 0


async def _env(p: Process, argv: list[str]) -> int:
    env = {**p.ctx.env, "HOSTNAME": p.ctx.hostname}
    if len(argv) > 1 and _base(argv[0]) == "printenv":
        if argv[1] not in env:
            return 1
        p.out(env[argv[1]])
        return 0
    for k, v in env.items():
        p.out(f"{k}={v}")
    return 0


async def _test(p: Process, argv: list[str]) -> int:
    """`[ a -lt b ]`, `[ -n s ]`, `[ a = b ]` and friends: enough for loop counters."""
    args = argv[1:-1] if argv[0] == "[" and argv[-1:] == ["]"] else argv[1:]
    neg = bool(args) and args[0] == "!"
    if neg:
        args = args[1:]
    ok = False
    if len(args) == 1:
        ok = args[0] != ""
    elif len(args) == 2 and args[0] in ("-n", "-z"):
        ok = (args[1] != "") == (args[0] == "-n")
    elif len(args) == 2 and args[0] in ("-e", "-f", "-d"):
        ok = False  # the fake filesystem is empty
    elif len(args) == 3:
        a, op, b = args
        if op in ("=", "=="):
            ok = a == b
        elif op == "!=":
            ok = a != b
        else:
            try:
                x, y = int(a), int(b)
            except ValueError:
                p.out(f"sh: {a if not a.lstrip('-').isdigit() else b}: bad number")
                return 2
            ok = {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}.get(op, False)
    return 0 if ok != neg else 1


def _bytes(s: str) -> int:
    m = re.fullmatch(r"(\d+)([bBkKmMgG]?)", s)
    if not m:
        return 0
    return int(m.group(1)) * {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]


async def _stress(p: Process, argv: list[str]) -> int:
    """polinux/stress, as in the Kubernetes docs' memory-limit example: `--vm N --vm-bytes 250M
    --vm-hang 1` allocates N x bytes and holds them; over the container's memory limit the
    kernel's OOM killer ends it (OOMKilled, 137)."""
    args = argv[1:]
    vm = 0
    vm_bytes = 256 * 1024**2
    timeout = 0
    for i, a in enumerate(args):
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if a in ("--vm", "-m"):
            vm = int(nxt) if nxt.isdigit() else 1
        elif a == "--vm-bytes":
            vm_bytes = _bytes(nxt) or vm_bytes
        elif a in ("--timeout", "-t"):
            timeout = int(re.sub(r"\D", "", nxt) or 0)
    p.out(f"stress: info: [1] dispatching hogs: 0 cpu, 0 io, {vm} vm, 0 hdd")
    if vm and p.ctx.memory_limit and vm * vm_bytes > p.ctx.memory_limit:
        await asyncio.sleep(0.2)  # the allocation grows until the cgroup limit is hit
        raise OOMKilled()
    if timeout:
        await asyncio.sleep(timeout)
        p.out(f"stress: info: [1] successful run completed in {timeout}s")
        return 0
    await asyncio.Event().wait()
    return 0


async def _touch(p: Process, argv: list[str]) -> int:
    for f in argv[1:]:
        if not f.startswith("-"):
            p.ctx.files.setdefault(f, "")
    return 0


async def _rm(p: Process, argv: list[str]) -> int:
    force = any(a.startswith("-") and "f" in a for a in argv[1:])
    status = 0
    for f in (a for a in argv[1:] if not a.startswith("-")):
        if f in p.ctx.files:
            del p.ctx.files[f]
        elif not force:
            p.out(f"rm: can't remove '{f}': No such file or directory")
            status = 1
    return status


async def _cat(p: Process, argv: list[str]) -> int:
    status = 0
    for f in (a for a in argv[1:] if not a.startswith("-")):
        if f == "/etc/hostname":
            p.out(p.ctx.hostname)
        elif f in p.ctx.files:
            for line in p.ctx.files[f].splitlines():
                p.out(line)
        else:
            p.out(f"cat: can't open '{f}': No such file or directory")
            status = 1
    return status


async def _ls(p: Process, argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    if not args or args[0].rstrip("/") == "":  # the image's root directory plus what was written there
        for name in sorted(set(ROOT_DIRS) | {k[1:].split("/")[0] for k in p.ctx.files if k.startswith("/")}):
            p.out(name)
        return 0
    if args[0].strip("/") in ROOT_DIRS and not any(k.startswith("/" + args[0].strip("/") + "/") for k in p.ctx.files):
        return 0  # an empty directory of the image
    if args[0] not in p.ctx.files and not any(k.startswith(args[0].rstrip("/") + "/") for k in p.ctx.files):
        p.out(f"ls: {args[0]}: No such file or directory")
        return 1
    prefix = (args[0].rstrip("/") + "/") if args else "/"
    for name in sorted({k[len(prefix):].split("/")[0] for k in p.ctx.files if k.startswith(prefix)} or
                       ([args[0].rsplit("/", 1)[-1]] if args else [])):
        p.out(name)
    return 0


ROOT_DIRS = ("bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "var")


async def _ps(p: Process, argv: list[str]) -> int:
    """The container's PID 1 and the `ps` itself (an exec'd process)."""
    p.out("PID   USER     TIME  COMMAND")
    if p.ctx.pid1:
        p.out(f"    1 root      0:00 {' '.join(p.ctx.pid1)}")
    pid = 7 if p.ctx.pid1 else 1
    p.out(f"{pid:>5} root      0:00 {' '.join(argv)}")
    return 0


async def _tail(p: Process, argv: list[str]) -> int:
    if "-f" in argv or "-F" in argv:
        await asyncio.Event().wait()
    return 0


async def _fetch(p: Process, argv: list[str]) -> int:
    from urllib.parse import urlsplit, urlunsplit

    from kubeling.shared import rawhttp
    url = next((a for a in argv[1:] if not a.startswith("-")), "")
    if not url:
        p.out(f"{_base(argv[0])}: no URL given")
        return 2
    if "://" not in url:
        url = "http://" + url
    u = urlsplit(url)
    host = u.hostname or ""

    def with_host(ip: str) -> str:  # the URL with its host replaced (as httpx's URL.copy_with printed it)
        netloc = f"{ip}:{u.port}" if u.port else ip
        return urlunsplit((u.scheme.lower(), netloc, u.path, u.query, u.fragment))
    if host in ("localhost", "127.0.0.1") and p.ctx.pod_ip:
        url = with_host(p.ctx.pod_ip)
    elif p.ctx.resolve and not re.fullmatch(r"[\d.]+", host):
        _, ips = await p.ctx.resolve(host)  # cluster names resolve through cluster DNS
        if not ips:
            p.out(f"{_base(argv[0])}: bad address '{host}'" if _base(argv[0]) == "wget"
                      else f"curl: (6) Could not resolve host: {host}")
            return 6 if _base(argv[0]) == "curl" else 1
        url = with_host(ips[0])
    try:
        # https verifies against the system trust store, built only when an https URL is fetched
        async with rawhttp.RawHTTPClient(timeout=5, connect_timeout=5, max_connections=1) as c:
            r = await c.get(url, headers={"Host": host})
        for line in r.text.splitlines():
            p.out(line)
        return 0 if r.status_code < 400 or _base(argv[0]) == "curl" else 1
    except rawhttp.RawHTTPError as e:  # the class names are httpx's: ConnectError, ReadTimeout, ...
        p.out(f"{_base(argv[0])}: can't connect to {url}: {e.__class__.__name__}")
        return 7 if _base(argv[0]) == "curl" else 1


async def _nslookup(p: Process, argv: list[str]) -> int:
    """busybox nslookup's output format, through the cluster DNS."""
    name = next((a for a in argv[1:] if not a.startswith("-")), "")
    if not name:
        p.out("BusyBox nslookup: usage: nslookup HOST [DNS_SERVER]")
        return 1
    if p.ctx.resolve is None:
        p.out(";; connection timed out; no servers could be reached")
        return 1
    p.out(f"Server:\t\t{p.ctx.dns_server.split(':')[0]}")
    p.out(f"Address:\t{p.ctx.dns_server}")
    p.out("")
    fqdn, ips = await p.ctx.resolve(name)
    if not ips:
        p.out(f"** server can't find {name}: NXDOMAIN")
        return 1
    for ip in ips:
        p.out(f"Name:\t{fqdn}")
        p.out(f"Address: {ip}")
    return 0


async def _component(p: Process, argv: list[str]) -> int:
    """A control-plane binary (etcd, kube-apiserver, ...) as the container of its static pod.

    `kubeling up` runs the real component as a host process; this container stands for it, as a
    hostNetwork pod shares the host's network. Its probes reach the real process, so the pod's
    readiness follows the component's health. Its log is the real process's output: the file
    named by KUBELING_LOG_FILE (set in the launcher's manifests), followed from its last 64 KiB,
    so `kubectl logs -n kube-system kube-apiserver-0-controlplane` shows the apiserver's log as on
    a kubeadm cluster. With KUBELING_HOME/KUBELING_CLUSTER/KUBELING_COMPONENT set (the launcher's
    manifests), the container's life is the process's, as for a real static pod: it starts the
    process when it is not running and exits when the process does, so the kubelet restarts
    both (services/launcher/staticproc.py). Otherwise it runs until stopped, exiting 0 on SIGTERM
    like the binaries."""
    name = _base(argv[0])
    path = p.ctx.env.get("KUBELING_LOG_FILE", "")
    if not path:
        p.out(f"{name}: this container stands for the {name} process that kubeling runs on the node "
              "(hostNetwork)")
    follow = asyncio.create_task(_follow_file(p, path)) if path else None
    env = p.ctx.env
    try:
        if env.get("KUBELING_HOME") and env.get("KUBELING_CLUSTER") and env.get("KUBELING_COMPONENT"):
            from kubeling.services.launcher import staticproc

            return await staticproc.run(env["KUBELING_HOME"], env["KUBELING_CLUSTER"], env["KUBELING_COMPONENT"],
                                        p.terminating)
        await p.terminating.wait()
        return 0
    finally:
        if follow:
            follow.cancel()


async def _follow_file(p: Process, path: str, tail_bytes: int = 64 * 1024, period: float = 0.5) -> None:
    """Emit the lines of a growing file (like `tail -F`): the last `tail_bytes` first, then what
    is appended, polled every `period` seconds; a truncated or replaced file is read anew."""
    import os
    pos, inode, partial = -1, -1, b""
    while True:
        try:
            st = os.stat(path)
            if st.st_ino != inode or st.st_size < pos:
                first = pos < 0
                inode, partial = st.st_ino, b""
                pos = max(0, st.st_size - tail_bytes) if first else 0
                if first and pos:  # start at a line boundary
                    with open(path, "rb") as f:
                        f.seek(pos)
                        pos += len(f.readline())
            if st.st_size > pos:
                with open(path, "rb") as f:
                    f.seek(pos)
                    data = f.read(st.st_size - pos)
                pos += len(data)
                *lines, partial = (partial + data).split(b"\n")
                for line in lines:
                    p.out(line.decode(errors="replace"))
        except OSError:
            pass  # not written yet: the component has not started
        await asyncio.sleep(period)


async def _etcdctl(p: Process, argv: list[str]) -> int:
    """The etcd image's etcdctl: kubeling's own etcdctl (`kubeling etcdctl`), run as a child
    process with the container's environment, so the output is byte for byte what `kubeling
    etcdctl` prints and ETCDCTL_ENDPOINTS (set in kubeling's etcd manifests to the member's own
    client URL) picks the local member, as 127.0.0.1:2379 does in a kubeadm etcd pod. A child
    process, not a call in the agent: etcdctl's client blocks and reads its flags from the
    environment. stdout and stderr both go to the exec's output, as on a terminal."""
    import os
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env.update({k: v for k, v in p.ctx.env.items() if k.startswith("ETCDCTL_")})
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubeling", "etcdctl", *argv[1:], stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    assert child.stdout is not None
    try:
        while line := await child.stdout.readline():
            p.out(line.decode(errors="replace").removesuffix("\n"))
        return await child.wait()
    finally:
        if child.returncode is None:  # the exec was cancelled (client hung up on `etcdctl watch`)
            child.kill()
            await child.wait()


IMAGE_PROGRAMS: dict[str, Callable[[Process, list[str]], Awaitable[int]]] = {
    "etcdctl": _etcdctl, "etcd": _component, "kube-apiserver": _component, "kube-scheduler": _component,
    "kube-controller-manager": _component,
}

BUILTINS: dict[str, Callable[[Process, list[str]], Awaitable[int]]] = {
    "sleep": _sleep, "echo": _echo, "exit": _exit, "true": _true, ":": _true, "false": _false, "!": _not,
    "date": _date, "hostname": _hostname, "env": _env, "printenv": _env, "tail": _tail, "wget": _fetch,
    "curl": _fetch, "nslookup": _nslookup, "[": _test, "test": _test, "touch": _touch, "rm": _rm, "cat": _cat,
    "ls": _ls, "stress": _stress, "ps": _ps,
}

HELLO = ["", "Hello from Docker!", "This message shows that your installation appears to be working correctly.", ""]
STARTUP = {
    "nginx": ["/docker-entrypoint.sh: Configuration complete; ready for start up",
              "nginx: start worker processes (listening on {ports})"],
    "httpd-foreground": ["AH00558: httpd: using the pod IP as ServerName",
                         "[mpm_event:notice] AH00489: Apache/2.4 configured -- resuming normal operations"],
    "redis-server": ["* Redis is starting", "* Ready to accept connections tcp"],
    "app.py": [" * Serving Flask app 'app'", " * Running on all addresses (0.0.0.0)"],
}
SHUTDOWN = {
    "nginx": ["signal 15 (SIGTERM) received, exiting", "exit"],
    "redis-server": ["# User requested shutdown...", "# Redis is now ready to exit, bye bye..."],
}

