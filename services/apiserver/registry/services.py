"""Services: defaults, validation, and ClusterIP / NodePort allocation.

Allocations are one store key per IP and per port (`/registry/ranges/serviceips/<ip>`,
`/registry/ranges/servicenodeports/<port>`), created with a `version == 0` guard in the same txn
as the Service itself and deleted in the txn that deletes it. Two apiservers racing for one IP
or port cannot both win, and a failed create leaves nothing behind.
"""
from __future__ import annotations

import ipaddress
import random
from typing import TYPE_CHECKING, Any

from ..api.errors import StatusError
from ..api.models import core
from ..storage import Compare
from ..storage.client import op_delete, op_put
from ..validation.field import FieldError, duplicate, invalid, invalid_error, not_supported, required
from ..validation.names import validate_labels
from .strategy import Strategy

if TYPE_CHECKING:
    from .store import Store

TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"


class ServiceStrategy(Strategy):
    kind, resource, singular = "Service", "services", "service"
    short_names = ("svc",)
    categories = ("all",)
    schema = core.Service
    has_status = True
    name_validator = "dns1035"

    def __init__(self, cluster_ip_range: str = "10.96.0.0/12", node_port_range: str = "30000-32767") -> None:
        self.ip_net = ipaddress.ip_network(cluster_ip_range, strict=False)
        lo, hi = node_port_range.split("-")
        self.port_lo, self.port_hi = int(lo), int(hi)

    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        t = spec.setdefault("type", "ClusterIP")
        if t == "ExternalName":
            return
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if p.get("targetPort") in (None, 0, "") and "port" in p:
                    p["targetPort"] = p["port"]
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if t in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if t == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("clusterIP") != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        t = spec.get("type", "ClusterIP")
        if t not in TYPES:
            errs.append(not_supported("spec.type", t, TYPES))
        ports = spec.get("ports") or []
        if not ports and t != "ExternalName" and spec.get("clusterIP") != "None":
            errs.append(required("spec.ports"))
        names: set[str] = set()
        node_ports: set[int] = set()
        seen: set[tuple[int, str]] = set()
        for i, p in enumerate(ports):
            pp = f"spec.ports[{i}]"
            if len(ports) > 1 and not p.get("name"):
                errs.append(required(f"{pp}.name"))
            if p.get("name"):
                if p["name"] in names:
                    errs.append(duplicate(f"{pp}.name", p["name"]))
                names.add(p["name"])
            port = p.get("port")
            if not isinstance(port, int) or not 1 <= port <= 65535:
                errs.append(invalid(f"{pp}.port", port, "must be between 1 and 65535, inclusive"))
            proto = p.get("protocol", "TCP")
            if proto not in ("TCP", "UDP", "SCTP"):
                errs.append(not_supported(f"{pp}.protocol", proto, ["SCTP", "TCP", "UDP"]))
            if (port, proto) in seen:
                errs.append(duplicate(f"{pp}", {"port": port, "protocol": proto}))
            seen.add((port, proto))
            tp = p.get("targetPort")
            if isinstance(tp, int) and not 1 <= tp <= 65535:
                errs.append(invalid(f"{pp}.targetPort", tp, "must be between 1 and 65535, inclusive"))
            np_ = p.get("nodePort")
            if np_:
                if t not in ("NodePort", "LoadBalancer"):
                    errs.append(FieldError("Forbidden", f"{pp}.nodePort", f"may not be used when `type` is '{t}'"))
                elif np_ in node_ports:
                    errs.append(duplicate(f"{pp}.nodePort", np_))
                node_ports.add(np_)
        errs += validate_labels(spec.get("selector"), "spec.selector")
        sa = spec.get("sessionAffinity")
        if sa and sa not in ("ClientIP", "None"):
            errs.append(not_supported("spec.sessionAffinity", sa, ["ClientIP", "None"]))
        if t == "ExternalName" and not spec.get("externalName"):
            errs.append(required("spec.externalName"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        oip = (old.get("spec") or {}).get("clusterIP")
        nip = (new.get("spec") or {}).get("clusterIP")
        if oip and nip and oip != nip and (old.get("spec") or {}).get("type") != "ExternalName":
            errs.append(invalid("spec.clusterIPs[0]", [nip], "may not change once set"))
        return errs

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        ns, os_ = new.setdefault("spec", {}), old.get("spec") or {}
        if not ns.get("clusterIP") and os_.get("clusterIP") and ns.get("type", "ClusterIP") != "ExternalName":
            ns["clusterIP"] = os_["clusterIP"]
            ns["clusterIPs"] = list(os_.get("clusterIPs") or [os_["clusterIP"]])
        # a port keeps its allocated nodePort when the client omits it (apply, edit)
        if ns.get("type") in ("NodePort", "LoadBalancer"):
            old_np = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in os_.get("ports") or []}
            for p in ns.get("ports") or []:
                if not p.get("nodePort"):
                    keep = old_np.get((p.get("port"), p.get("protocol", "TCP")))
                    if keep:
                        p["nodePort"] = keep

    # --- allocation -----------------------------------------------------------------------------
    def _invalid(self, obj: dict[str, Any], errs: list[FieldError]) -> StatusError:
        return invalid_error("Service", obj["metadata"].get("name", ""), errs)

    async def allocations(self, store: "Store", old: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[list, list]:
        compares: list[Compare] = []
        ops: list[dict[str, Any]] = []
        old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
        old_ports = {p.get("nodePort") for p in ((old or {}).get("spec") or {}).get("ports") or [] if p.get("nodePort")}
        if new is None:
            if old_ip and old_ip != "None":
                ops.append(op_delete(IP_PREFIX + old_ip))
            ops += [op_delete(f"{PORT_PREFIX}{p}") for p in old_ports]
            return compares, ops
        spec = new.setdefault("spec", {})
        owner = f"{new['metadata'].get('namespace')}/{new['metadata'].get('name')}".encode()
        t = spec.get("type", "ClusterIP")
        if t != "ExternalName":
            ip = spec.get("clusterIP")
            if not old_ip and ip != "None":
                if ip:
                    try:
                        addr = ipaddress.ip_address(ip)
                    except ValueError:
                        raise self._invalid(new, [invalid("spec.clusterIPs", [ip], "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]) from None
                    if addr not in self.ip_net or addr in (self.ip_net.network_address, self.ip_net.broadcast_address):
                        raise self._invalid(new, [invalid("spec.clusterIPs", [ip], f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.ip_net}")])
                    kv, _ = await store.client.get(IP_PREFIX + ip)
                    if kv is not None:
                        raise self._invalid(new, [invalid("spec.clusterIPs", [ip], f"failed to allocate IP {ip}: provided IP is already allocated")])
                else:
                    ip = await self._free_ip(store)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
                compares.append(Compare(IP_PREFIX + ip, "VERSION", 0))
                ops.append(op_put(IP_PREFIX + ip, owner))
        elif old_ip and old_ip != "None":
            ops.append(op_delete(IP_PREFIX + old_ip))
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        new_ports: set[int] = set()
        if t in ("NodePort", "LoadBalancer"):
            for i, p in enumerate(spec.get("ports") or []):
                np_ = p.get("nodePort")
                if np_:
                    if np_ in old_ports:
                        new_ports.add(np_)
                        continue
                    if not self.port_lo <= np_ <= self.port_hi:
                        raise self._invalid(new, [invalid(f"spec.ports[{i}].nodePort", np_, f"provided port is not in the valid range. The range of valid ports is {self.port_lo}-{self.port_hi}")])
                    kv, _ = await store.client.get(f"{PORT_PREFIX}{np_}")
                    if kv is not None:
                        raise self._invalid(new, [invalid(f"spec.ports[{i}].nodePort", np_, "provided port is already allocated")])
                else:
                    np_ = await self._free_port(store, new_ports | old_ports)
                    p["nodePort"] = np_
                new_ports.add(np_)
                compares.append(Compare(f"{PORT_PREFIX}{np_}", "VERSION", 0))
                ops.append(op_put(f"{PORT_PREFIX}{np_}", owner))
        else:
            for p in spec.get("ports") or []:
                p.pop("nodePort", None)
        ops += [op_delete(f"{PORT_PREFIX}{p}") for p in old_ports - new_ports]
        if t == "LoadBalancer" and spec.get("clusterIP") and old is None:
            new.setdefault("status", {})["loadBalancer"] = {"ingress": [{"ip": spec["clusterIP"], "ipMode": "VIP"}]}
        return compares, ops

    async def _free_ip(self, store: "Store") -> str:
        size = self.ip_net.num_addresses
        for _ in range(64):
            off = random.randrange(2, max(3, size - 1))  # .1 is reserved for the `kubernetes` service
            ip = str(self.ip_net.network_address + off)
            kv, _ = await store.client.get(IP_PREFIX + ip)
            if kv is None:
                return ip
        kvs, _, _, _ = await store.client.range(IP_PREFIX, (IP_PREFIX[:-1] + "0").encode())
        used = {kv.key[len(IP_PREFIX):] for kv in kvs}
        for off in range(2, size - 1):
            ip = str(self.ip_net.network_address + off)
            if ip not in used:
                return ip
        raise StatusError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full")

    async def _free_port(self, store: "Store", taken: set[int]) -> int:
        for _ in range(64):
            port = random.randint(self.port_lo, self.port_hi)
            if port in taken:
                continue
            kv, _ = await store.client.get(f"{PORT_PREFIX}{port}")
            if kv is None:
                return port
        raise StatusError(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: range is full")
