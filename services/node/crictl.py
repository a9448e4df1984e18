"""`kubeling crictl --node NODE ps|pods|images|inspect ID|logs ID`: inspect a node's fake
runtime through its CRI-shaped API, with crictl's table layouts - the view a CKA student gets
from `crictl` on a node when kubectl is not enough."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx

from kubeling.shared import kubeconfig
from kubeling.shared.client import ApiError, Unavailable

STATES = {"CONTAINER_RUNNING": "Running", "CONTAINER_EXITED": "Exited", "CONTAINER_CREATED": "Created",
          "CONTAINER_UNKNOWN": "Unknown", "SANDBOX_READY": "Ready", "SANDBOX_NOTREADY": "NotReady"}


def ago(ns: int) -> str:
    secs = max(int(time.time() - ns / 1e9), 0)
    for unit, size in (("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = secs // size
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "Less than a second ago" if secs < 1 else f"{secs} seconds ago"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("".join(c.ljust(max(w, 17) + 3) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows)


async def run(args: argparse.Namespace) -> str:
    cfg = kubeconfig.load(args.kubeconfig, server=args.server)
    # through the apiserver's nodes/<node>/proxy (as `kubectl get --raw`), with the kubeconfig's
    # credentials: a secured kubelet API answers only callers it can authenticate (docs/security.md)
    base = f"{cfg.servers[0]}/api/v1/nodes/{args.node}/proxy"
    headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else {}
    async with httpx.AsyncClient(base_url=base, timeout=10, verify=cfg.verify, cert=cfg.cert, headers=headers) as h:
        async def get(path: str, **params: str) -> httpx.Response:
            r = await h.get(path, params=params)
            if r.status_code != 200:
                is_status = r.headers.get("content-type", "").startswith("application/json") and "message" in r.text
                raise RuntimeError(r.json()["message"] if is_status else r.text.strip())
            return r
        if args.cmd == "ps":
            cs = (await get("/cri/containers")).json()["containers"]
            pods = {p["id"]: p for p in (await get("/cri/pods")).json()["items"]}
            rows = [["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD"]]
            for c in sorted(cs, key=lambda c: -c["createdAt"]):
                if not args.all and c["state"] != "CONTAINER_RUNNING":
                    continue
                pod = pods.get(c["podSandboxId"], {}).get("metadata", {}).get("name", "")
                rows.append([c["id"][:13], c["image"]["image"], ago(c["createdAt"]), STATES[c["state"]],
                             c["metadata"]["name"], str(c["metadata"]["attempt"]), c["podSandboxId"][:13], pod])
            return table(rows)
        if args.cmd == "pods":
            rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]]
            for p in sorted((await get("/cri/pods")).json()["items"], key=lambda p: -p["createdAt"]):
                md = p["metadata"]
                rows.append([p["id"][:13], ago(p["createdAt"]), STATES[p["state"]], md["name"], md["namespace"],
                             str(md["attempt"]), "(default)"])
            return table(rows)
        if args.cmd == "images":
            rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE"]]
            for i in (await get("/cri/images")).json()["images"]:
                rows.append([i["repo"], i["tag"], i["id"].split(":", 1)[-1][:13], "0B"])
            return table(rows)
        if args.cmd == "inspect":
            return json.dumps((await get(f"/cri/containers/{args.id}")).json(), indent=2) + "\n"
        if args.cmd == "logs":
            params = {"tail": str(args.tail)} if args.tail is not None else {}
            return (await get(f"/cri/containers/{args.id}/logs", **params)).text
    raise RuntimeError(f"unknown command {args.cmd}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kubeling crictl", description=__doc__)
    p.add_argument("--node", required=True, help="node whose runtime to inspect")
    p.add_argument("--kubeconfig")
    p.add_argument("--server", "-s", help="apiserver URL, overriding the kubeconfig")
    sub = p.add_subparsers(dest="cmd", required=True)
    ps = sub.add_parser("ps", help="list containers")
    ps.add_argument("-a", "--all", action="store_true", help="show exited containers too")
    sub.add_parser("pods", help="list pod sandboxes")
    sub.add_parser("images", help="list pulled images")
    ins = sub.add_parser("inspect", help="a container's status (ID or unique prefix)")
    ins.add_argument("id")
    lg = sub.add_parser("logs", help="a container's log (ID or unique prefix)")
    lg.add_argument("id")
    lg.add_argument("--tail", type=int)
    args = p.parse_args(argv)
    try:
        sys.stdout.write(asyncio.run(run(args)))
    except (ApiError, Unavailable, RuntimeError, httpx.HTTPError, kubeconfig.KubeconfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
