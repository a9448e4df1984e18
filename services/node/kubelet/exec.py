"""`/exec/{namespace}/{pod}/{container}`: run a command in a running fake container over the
Kubernetes WebSocket streaming protocol (v5.channel.k8s.io / v4.channel.k8s.io), as the
kubelet's streaming server does for `kubectl exec`.

Every binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error (a
metav1.Status once the command ends), 4 resize (ignored); v5 adds 255 close (`[255, 0]` is
the client closing stdin). The command runs with the container's interpreter, environment,
hostname and files. A shell without `-c` and with stdin reads one command per line until
`exit` or end of input; with a tty it echoes keystrokes and prints a prompt.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import struct
from typing import Any

from kubeling.shared.httpserver import Request, Response, text

from .program import SHELLS, Context, Process, StartError, _Exit
from .runtime import RUNNING

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROMPT = "/ # "


def _flag(req: Request, name: str) -> bool:
    return req.arg(name) in ("1", "true", "True")


def exec_endpoint(kubelet: Any, req: Request, ns: str, pod: str, container: str) -> Response:
    rec = next((r for r in kubelet.pods.values()
                if r.pod["metadata"]["name"] == pod and r.pod["metadata"].get("namespace") == ns and not r.deleted), None)
    if rec is None or not rec.sandbox_id:
        return text(f'pod "{pod}" in namespace "{ns}" not found\n', 404)
    latest, _ = kubelet._instances(rec, container)
    if latest is None or latest.state != RUNNING or latest.process is None:  # as upstream: only running ones count
        return text(f'container not found ("{container}")', 404)
    argv = req.query.get("command") or []
    if not argv:
        return text("you must specify at least 1 command\n", 400)
    if (req.headers.get("upgrade") or "").lower() != "websocket" or not req.headers.get("sec-websocket-key"):
        return text("exec needs a WebSocket upgrade (Upgrade: websocket)\n", 400)
    offered = [p.strip() for p in (req.headers.get("sec-websocket-protocol") or "").split(",") if p.strip()]
    proto = next((p for p in PROTOCOLS if p in offered), None)
    if proto is None:
        return text(f"no supported streaming subprotocol in {offered}; supported: {list(PROTOCOLS)}\n", 400)
    accept = base64.b64encode(hashlib.sha1((req.headers["sec-websocket-key"] + GUID).encode()).digest()).decode()
    session = ExecSession(latest, list(argv), stdin=_flag(req, "stdin"), tty=_flag(req, "tty"),
                          stderr=_flag(req, "stderr"), v5=proto.startswith("v5"))

    async def upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {proto}\r\n\r\n").encode())
        await writer.drain()
        await session.run(reader, writer)
    return Response(101, upgrade=upgrade)


# --- RFC 6455 framing (server side: frames from the client are masked, ours are not) -------------

def frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[bool, int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if b1 & 0x80 else b""
    data = await reader.readexactly(n)
    if mask:
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
    return bool(b0 & 0x80), b0 & 0x0F, data


class ExecSession:
    def __init__(self, container: Any, argv: list[str], stdin: bool, tty: bool, stderr: bool, v5: bool) -> None:
        self.container = container
        self.argv = argv
        self.stdin = stdin
        self.tty = tty
        self.v5 = v5
        self.out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()  # stdin, split into lines
        self._partial = ""

    def send(self, channel: int, data: bytes) -> None:
        self.out.put_nowait(frame(0x2, bytes([channel]) + data))

    def write_line(self, line: str) -> None:
        self.send(STDOUT, (line + ("\r\n" if self.tty else "\n")).encode())

    def _stdin_data(self, data: bytes) -> None:
        s = data.decode(errors="replace")
        if not self.tty:
            self._partial += s
            *done, self._partial = self._partial.split("\n")
            for ln in done:
                self.lines.put_nowait(ln)
            return
        for ch in s:  # a terminal in canonical mode: echo, erase, enter, ^C, ^D
            if ch in "\r\n":
                self.send(STDOUT, b"\r\n")
                self.lines.put_nowait(self._partial)
                self._partial = ""
            elif ch in "\x7f\x08":
                if self._partial:
                    self._partial = self._partial[:-1]
                    self.send(STDOUT, b"\x08 \x08")
            elif ch == "\x03":
                self._partial = ""
                self.send(STDOUT, ("^C\r\n" + PROMPT).encode())
            elif ch == "\x04":
                if not self._partial:
                    self.lines.put_nowait(None)
            elif ch >= " " or ch == "\t":
                self._partial += ch
                self.send(STDOUT, ch.encode())

    def _stdin_eof(self) -> None:
        if self._partial:
            self.lines.put_nowait(self._partial)
            self._partial = ""
        self.lines.put_nowait(None)

    async def _reader(self, reader: asyncio.StreamReader) -> None:
        buf = b""
        try:
            while True:
                fin, op, data = await read_frame(reader)
                if op == 0x8:  # close
                    self.out.put_nowait(frame(0x8, data[:2]))
                    break
                if op == 0x9:
                    self.out.put_nowait(frame(0xA, data))
                    continue
                if op in (0x0, 0x1, 0x2):
                    buf += data
                    if not fin:
                        continue
                    msg, buf = buf, b""
                    if not msg:
                        continue
                    ch, body = msg[0], msg[1:]
                    if ch == STDIN and self.stdin:
                        self._stdin_data(body)
                    elif ch == CLOSE and self.v5 and body[:1] == bytes([STDIN]):
                        self._stdin_eof()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._stdin_eof()

    async def _writer(self, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await self.out.get()
            if data is None:
                return
            writer.write(data)
            await writer.drain()

    async def _execute(self) -> int:
        base = self.container.process.ctx
        ctx = Context(log=self.write_line, env=dict(base.env), hostname=base.hostname, serve=base.serve,
                      image_ports=base.image_ports, resolve=base.resolve, dns_server=base.dns_server,
                      files=self.container.files, pod_ip=base.pod_ip, pid1=list(self.container.argv),
                      image=base.image)
        try:
            proc = Process(self.argv, ctx)
        except StartError as e:
            self.send(STDERR if not self.tty else STDOUT, (str(e) + "\n").encode())
            return 126 if "not found" not in str(e) else 127
        interactive = self.stdin and self.argv[0] in SHELLS and len(self.argv) == 1
        if not interactive:
            return await proc.run()
        status = 0
        while True:
            if self.tty:
                self.send(STDOUT, PROMPT.encode())
            line = await self.lines.get()
            if line is None:
                return status
            if not line.strip():
                continue
            try:
                status = await proc.run_script(line)
            except _Exit as e:
                return e.code

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rtask = asyncio.create_task(self._reader(reader))
        wtask = asyncio.create_task(self._writer(writer))
        etask = asyncio.create_task(self._execute())
        try:
            await asyncio.wait([etask, rtask], return_when=asyncio.FIRST_COMPLETED)
            if not etask.done():  # the client hung up (close frame or EOF): stop the command
                etask.cancel()
                return
            try:
                code = etask.result()
            except Exception:
                log.exception("exec failed", extra={"command": self.argv})
                code = 126
            if code == 0:
                status: dict[str, Any] = {"metadata": {}, "status": "Success"}
            else:
                status = {"metadata": {}, "status": "Failure",
                          "message": f"command terminated with non-zero exit code: error executing command "
                                     f"[{' '.join(self.argv)}], exit code {code}",
                          "reason": "NonZeroExitCode",
                          "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
            self.send(ERROR, json.dumps(status).encode())
            self.out.put_nowait(frame(0x8, struct.pack("!H", 1000)))
            self.out.put_nowait(None)
            await asyncio.wait_for(wtask, 10)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            for t in (etask, rtask, wtask):
                t.cancel()
