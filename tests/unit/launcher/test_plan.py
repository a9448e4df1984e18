"""The launcher's plan: the store's peer secret, and addresses chosen around what others hold."""
from __future__ import annotations

import socket
import stat

from kubeling.services.launcher.plan import (
    LOOPBACK,
    AddressBlock,
    PortPicker,
    Taken,
    UpOptions,
    free_block,
    listen_addresses,
    make_plan,
)
from kubeling.services.launcher.state import ClusterDir


def test_every_member_gets_the_cluster_s_private_peer_secret_even_without_tls(tmp_path):
    cdir = ClusterDir("t", under=tmp_path)
    plan = make_plan(UpOptions("t", nodes=1, store_members=3, tls=False), cdir)
    secret = cdir.root / "pki" / "etcd-peer-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_bytes()) == 32
    for comp in plan.of_kind("etcd"):
        assert comp.args[comp.args.index("--peer-secret-file") + 1] == str(secret)
    # made once: a second plan of the same cluster keeps it
    before = secret.read_bytes()
    make_plan(UpOptions("t", nodes=1, store_members=3, tls=False), cdir)
    assert secret.read_bytes() == before


def test_the_plan_avoids_what_other_clusters_hold(tmp_path):
    first = make_plan(UpOptions("a", nodes=1, store_members=1, tls=False), ClusterDir("a", under=tmp_path))
    held = Taken(frozenset({first.settings["address_block"]}),
                 frozenset(a for c in first.components for a in listen_addresses(c)))
    second = make_plan(UpOptions("b", nodes=1, store_members=1, tls=False), ClusterDir("b", under=tmp_path), held)
    assert second.settings["address_block"] != first.settings["address_block"]
    mine = {a for c in second.components for a in listen_addresses(c)}
    assert not mine & held.addresses
    assert set(second.node_ips.values()).isdisjoint(first.node_ips.values())


def test_listen_addresses_are_read_from_the_command_lines(tmp_path):
    plan = make_plan(UpOptions("t", nodes=1, store_members=1, tls=True), ClusterDir("t", under=tmp_path))
    etcd = plan.get("etcd-0")
    addrs = listen_addresses(etcd)
    assert len(addrs) == 3 and all(host == LOOPBACK for host, _ in addrs)  # client, peer, metrics
    assert plan.store_urls[0].endswith(f":{addrs[0][1]}")
    node = plan.get("node-1")
    ip = plan.node_ips["node-1"]
    assert (ip, 10250) in listen_addresses(node) and (ip, 10248) in listen_addresses(node)


def test_a_port_something_listens_on_is_skipped():
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        s.listen()
        busy = s.getsockname()[1]
        picker = PortPicker()
        assert picker.pick(busy) != busy
    picker = PortPicker(Taken(addresses=frozenset({(LOOPBACK, busy)})))
    assert picker.pick(busy) != busy  # free now, but another cluster's plan names it


def test_a_block_whose_node_addresses_are_in_use_is_skipped():
    first = free_block(1)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((first.node_ip(1), 10250))
        s.listen()
        assert free_block(1).k != first.k
    assert free_block(1, Taken(blocks=frozenset({first.k}))).k != first.k
    assert AddressBlock(2).node_ip(3) == "127.0.3.3"
