"""`kubeling proxy-rules NODE`: print the rules a node's kube-proxy computed, in iptables-save
form, fetched from the node agent's kubelet API (found through the Node object)."""
from __future__ import annotations

import argparse
import asyncio
import sys

import httpx

from kubeling.shared import kubeconfig
from kubeling.shared.client import NODES, ApiError, Client, Unavailable


async def fetch(node: str, kcfg: str | None, server: str | None) -> str:
    client = Client(kubeconfig.load(kcfg, server=server), user_agent="kubeling-proxy-rules")
    try:
        n = await client.get(NODES, node)
    finally:
        await client.aclose()
    st = n.get("status") or {}
    ip = next((a["address"] for a in st.get("addresses") or [] if a.get("type") == "InternalIP"), None)
    port = ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not ip or not port:
        raise RuntimeError(f"node {node} reports no kubelet endpoint")
    async with httpx.AsyncClient(timeout=10) as h:
        r = await h.get(f"http://{ip}:{port}/proxyRules")
    if r.status_code != 200:
        raise RuntimeError(r.text.strip())
    return r.text


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling proxy-rules", description=__doc__)
    p.add_argument("node", help="node name")
    p.add_argument("--kubeconfig")
    p.add_argument("--server", "-s", help="apiserver URL, overriding the kubeconfig")
    args = p.parse_args(argv)
    try:
        sys.stdout.write(asyncio.run(fetch(args.node, args.kubeconfig, args.server)))
    except (ApiError, Unavailable, RuntimeError, httpx.HTTPError, kubeconfig.KubeconfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
