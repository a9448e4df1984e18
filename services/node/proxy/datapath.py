"""The userspace data path: a TCP listener per ClusterIP:port and per nodeIP:nodePort, each
connection spliced to one endpoint chosen as the iptables rules would choose it (uniformly at
random, or the client's previous endpoint under ClientIP affinity).

On one machine every node agent's proxy listens on the same ClusterIP:port; SO_REUSEPORT lets
them share it (the kernel spreads connections), just as every real node has the same rules.
A Service port without endpoints has no listener, so connections are refused, like the REJECT
rule kube-proxy installs.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
import zlib

from .rules import Endpoint, ServicePort

log = logging.getLogger("proxy")


class Listener:
    def __init__(self, dp: "DataPath", ip: str, port: int, sp: ServicePort) -> None:
        self.dp = dp
        self.ip = ip
        self.port = port
        self.sp = sp
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._conn, self.ip, self.port, reuse_address=True, reuse_port=True)

    async def close(self) -> None:
        if self.server:
            self.server.close()

    def pick(self, client_ip: str) -> list[Endpoint]:
        """Endpoints to try, first choice first.

        ClientIP affinity: iptables' `recent` table remembers a client's endpoint per node, and a
        client's packets all cross one node. On one machine every node agent's proxy shares the
        ClusterIP socket, so a client's connections land on different proxies; the choice is
        therefore a hash of the client address over the sorted endpoints, which every proxy
        computes alike. A client that had an endpoint keeps it while it exists (within the
        timeout), like the recent table; a new one is spread by the hash."""
        eps = list(self.sp.endpoints)
        if not eps:
            return []
        random.shuffle(eps)
        if self.sp.affinity_timeout:
            key = (self.sp.id, client_ip)
            hit = self.dp.affinity.get(key)
            ordered = sorted(self.sp.endpoints, key=lambda e: (e.ip, e.port))
            first = ordered[zlib.crc32(f"{self.sp.id}|{client_ip}".encode()) % len(ordered)]
            if hit and hit[1] > time.monotonic() and hit[0] in eps:
                first = hit[0]
            eps.remove(first)
            eps.insert(0, first)
        return eps

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        upstream = None
        for ep in self.pick(peer[0])[:3]:
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(ep.ip, ep.port), 3)
            except (OSError, asyncio.TimeoutError):
                continue
            if self.sp.affinity_timeout:
                self.dp.affinity[(self.sp.id, peer[0])] = (ep, time.monotonic() + self.sp.affinity_timeout)
            self.dp.connections += 1
            break
        if upstream is None:
            writer.close()
            return
        ur, uw = upstream
        await asyncio.gather(_pipe(reader, uw), _pipe(ur, writer), return_exceptions=True)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await src.read(65536)
            if not data:
                break
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if dst.can_write_eof():
                dst.write_eof()
            else:
                dst.close()
        except (OSError, RuntimeError):
            dst.close()


class DataPath:
    def __init__(self, node_ip: str) -> None:
        self.node_ip = node_ip
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.affinity: dict[tuple[str, str], tuple[Endpoint, float]] = {}
        self.connections = 0
        self.bind_errors: dict[tuple[str, int], str] = {}

    async def reconcile(self, ports: list[ServicePort]) -> None:
        desired: dict[tuple[str, int], ServicePort] = {}
        for sp in ports:
            if sp.protocol != "TCP" or not sp.endpoints:
                continue
            for ip in sp.cluster_ips:
                desired[(ip, sp.port)] = sp
            if sp.node_port:
                desired[(self.node_ip, sp.node_port)] = sp
        for key in list(self.listeners):
            if key not in desired:
                await self.listeners.pop(key).close()
        self.bind_errors = {k: v for k, v in self.bind_errors.items() if k in desired}
        for key, sp in desired.items():
            lst = self.listeners.get(key)
            if lst is not None:
                lst.sp = sp  # endpoints changed in place: new connections see them at once
                continue
            lst = Listener(self, key[0], key[1], sp)
            try:
                await lst.start()
            except OSError as e:
                if self.bind_errors.get(key) != str(e):
                    log.warning("cannot listen for service", extra={"service": sp.id, "address": f"{key[0]}:{key[1]}",
                                                                    "err": e.strerror or str(e)})
                self.bind_errors[key] = str(e)
                continue
            self.bind_errors.pop(key, None)
            self.listeners[key] = lst
        now = time.monotonic()
        for k, (_, exp) in list(self.affinity.items()):
            if exp <= now:
                del self.affinity[k]

    async def close(self) -> None:
        for lst in self.listeners.values():
            await lst.close()
        self.listeners.clear()
