"""host-gw routes (services/node/routes.py): which podCIDR goes via which node."""
from __future__ import annotations

from kubeling.services.node.routes import peer_routes


def node(name: str, ip: str | None, *cidrs: str) -> dict:
    n: dict = {"metadata": {"name": name}, "spec": {}, "status": {}}
    if cidrs:
        n["spec"] = {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)}
    if ip:
        n["status"]["addresses"] = [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]
    return n


def test_routes_to_every_other_node_via_its_internal_ip() -> None:
    nodes = [node("node-1", "10.240.0.21", "10.244.1.0/24"), node("node-2", "10.240.0.22", "10.244.2.0/24"),
             node("node-3", "10.240.0.23", "10.244.3.0/24")]
    assert peer_routes(nodes, "node-1") == {"10.244.2.0/24": "10.240.0.22", "10.244.3.0/24": "10.240.0.23"}


def test_nodes_without_address_or_cidr_get_no_route_and_ipv6_is_skipped() -> None:
    nodes = [node("a", None, "10.244.4.0/24"), node("b", "10.240.0.25"),
             node("c", "10.240.0.26", "10.244.6.0/24", "fd00:10:244:6::/64"), node("d", "fd00::7", "10.244.7.0/24")]
    assert peer_routes(nodes, "self") == {"10.244.6.0/24": "10.240.0.26"}


def test_legacy_single_pod_cidr_field_and_non_canonical_cidr() -> None:
    n = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.9.7/24"},
         "status": {"addresses": [{"type": "InternalIP", "address": "10.240.0.29"}]}}
    assert peer_routes([n], "other") == {"10.244.9.0/24": "10.240.0.29"}
