"""Cluster membership from etcd-style flags: `--initial-cluster name=peerURL,...`, member and
cluster IDs, and the mapping between Raft addresses and members.

pysyncobj identifies a peer only by its `host:port` Raft address; clients see etcd member IDs.
IDs are derived as etcd derives them (sha1 of the sorted peer URLs plus the cluster token for
members, sha1 of the sorted member IDs for the cluster), so they are stable across restarts
and identical on every member without any coordination.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Member:
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...] = field(default=())

    @property
    def raft_address(self) -> str:
        """The `host:port` pysyncobj uses for this member: its first peer URL."""
        return url_hostport(self.peer_urls[0])

    def member_id(self, token: str) -> int:
        b = "".join(sorted(self.peer_urls)).encode() + token.encode()
        return struct.unpack(">Q", hashlib.sha1(b).digest()[:8])[0]


def url_hostport(url: str) -> str:
    u = urlsplit(url if "://" in url else "http://" + url)
    if not u.hostname or not u.port:
        raise ValueError(f"URL {url!r} must have a host and a port")
    return f"{u.hostname}:{u.port}"


def split_urls(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def parse_initial_cluster(value: str) -> dict[str, Member]:
    """`etcd-0=http://127.0.0.1:2380,etcd-1=http://127.0.0.1:2382` -> {name: Member}.
    A name may appear several times to list several peer URLs, as in etcd."""
    urls: dict[str, list[str]] = {}
    for part in split_urls(value):
        if "=" not in part:
            raise ValueError(f"--initial-cluster entry {part!r} is not name=URL")
        name, url = part.split("=", 1)
        url_hostport(url)
        urls.setdefault(name.strip(), []).append(url.strip())
    if not urls:
        raise ValueError("--initial-cluster is empty")
    return {name: Member(name, tuple(u)) for name, u in urls.items()}


@dataclass
class Cluster:
    """This member's view of the cluster: static membership from --initial-cluster."""

    self_name: str
    members: dict[str, Member]
    token: str
    client_urls: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.self_name not in self.members:
            raise ValueError(f"--name {self.self_name!r} is not in --initial-cluster ({', '.join(self.members)})")
        self.ids = {name: m.member_id(self.token) for name, m in self.members.items()}
        h = hashlib.sha1(b"".join(struct.pack(">Q", i) for i in sorted(self.ids.values())))
        self.cluster_id = struct.unpack(">Q", h.digest()[:8])[0]
        self.by_address = {m.raft_address: name for name, m in self.members.items()}

    @property
    def self_member(self) -> Member:
        return self.members[self.self_name]

    @property
    def self_id(self) -> int:
        return self.ids[self.self_name]

    def peer_addresses(self) -> list[str]:
        return [m.raft_address for name, m in self.members.items() if name != self.self_name]

    def id_for_address(self, address: str | None) -> int:
        name = self.by_address.get(address or "")
        return self.ids[name] if name else 0
