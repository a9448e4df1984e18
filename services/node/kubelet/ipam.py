"""Pod IPs from the node's podCIDR, as the host-local IPAM plugin hands them out.

The network address and the first host (the bridge's gateway on a real node) are never given
to pods; released addresses are reused last, so a just-deleted pod's IP is not immediately
someone else's.
"""
from __future__ import annotations

import ipaddress
from collections import OrderedDict


class IPAM:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.gateway = self.network.network_address + 1
        self.owners: dict[str, str] = {}  # ip -> pod uid
        self._released: OrderedDict[str, None] = OrderedDict()

    def allocate(self, uid: str, want: str | None = None) -> str:
        """An IP for pod `uid` (the same one again if it has one; `want` when re-adopting)."""
        for ip, owner in self.owners.items():
            if owner == uid:
                return ip
        if want and ipaddress.ip_address(want) in self.network and want not in self.owners:
            self.owners[want] = uid
            self._released.pop(want, None)
            return want
        for host in self.network.hosts():
            s = str(host)
            if host == self.gateway or s in self.owners or s in self._released:
                continue
            self.owners[s] = uid
            return s
        for s in list(self._released):
            self._released.pop(s)
            self.owners[s] = uid
            return s
        raise RuntimeError(f"no free pod IPs left in {self.network}")

    def release(self, uid: str) -> None:
        for ip, owner in list(self.owners.items()):
            if owner == uid:
                del self.owners[ip]
                self._released[ip] = None
