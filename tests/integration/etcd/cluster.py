"""A real multi-member `kubeling etcd` cluster on free loopback ports, for integration tests.

Its members share a peer secret (a 0600 file of random bytes, `--peer-secret-file`), as
`kubeling up` gives its members: a member with peers refuses to start without one."""
from __future__ import annotations

import base64
import json

import httpx

from kubeling.services.etcd.raftauth import write_secret_file
from tests.support.procs import Proc, ProcGroup, free_port, wait_until


def b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


class StoreCluster:
    def __init__(self, procs: ProcGroup, size: int = 3, extra: list[str] | None = None) -> None:
        self.procs = procs
        self.size = size
        self.extra = extra or []
        self.client_ports = [free_port() for _ in range(size)]
        self.peer_ports = [free_port() for _ in range(size)]
        self.names = [f"etcd-{i}" for i in range(size)]
        self.initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(self.names, self.peer_ports))
        self.members: dict[int, Proc] = {}
        self.secret_file = procs.log_dir / "etcd-peer-secret"
        write_secret_file(self.secret_file)
        self.http = httpx.Client(timeout=10.0)

    def args(self, i: int) -> list[str]:
        return ["etcd", "--name", self.names[i], "--data-dir", str(self.procs.log_dir / self.names[i]),
                "--listen-client-urls", f"http://127.0.0.1:{self.client_ports[i]}",
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[i]}",
                "--initial-cluster", self.initial, "--initial-cluster-token", "test-cluster",
                "--peer-secret-file", str(self.secret_file), *self.extra]

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.client_ports[i]}"

    def start(self, i: int | None = None) -> "StoreCluster":
        for j in ([i] if i is not None else range(self.size)):
            self.members[j] = self.procs.start(self.names[j], self.args(j))
        return self

    def kill(self, i: int) -> None:
        self.members[i].kill()

    def post(self, i: int, path: str, body: dict | None = None, timeout: float = 10.0) -> httpx.Response:
        return self.http.post(self.url(i) + path, content=json.dumps(body or {}), timeout=timeout)

    def status(self, i: int) -> dict:
        return self.post(i, "/v3/maintenance/status").json()

    def wait_healthy(self, members: list[int] | None = None, timeout: float = 30.0) -> None:
        for i in members if members is not None else range(self.size):
            wait_until(lambda i=i: self.http.get(self.url(i) + "/health", timeout=2).status_code == 200,
                       timeout, what=f"{self.names[i]} healthy ({self.members[i].log_tail(5)})")

    def leader(self, among: list[int] | None = None) -> int:
        """Index of the member all the given members agree is leader."""
        among = list(among if among is not None else range(self.size))

        def agreed():
            ids = set()
            for i in among:
                st = self.status(i)
                ids.add((st.get("leader"), st.get("raftTerm")))
            if len(ids) == 1:
                (lid, _), = ids
                for i in among:
                    if self.status(i)["header"]["member_id"] == lid:
                        return i + 1  # truthy
            return None

        return wait_until(agreed, 30, what="an agreed leader") - 1

    def put(self, i: int, key: str, value: str, timeout: float = 10.0) -> httpx.Response:
        return self.post(i, "/v3/kv/put", {"key": b64(key), "value": b64(value)}, timeout=timeout)

    def get(self, i: int, key: str, **kw) -> dict:
        return self.post(i, "/v3/kv/range", {"key": b64(key), **kw}).json()

    def get_prefix(self, i: int, prefix: str, serializable: bool = False) -> dict[str, str]:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = self.post(i, "/v3/kv/range", {"key": b64(prefix), "range_end": b64(end),
                                             "serializable": serializable}).json()
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
                for kv in body.get("kvs", [])}

    def close(self) -> None:
        self.http.close()
