"""`kubeling apiserver`: the Kubernetes REST API over kubeling's store (or a real etcd)."""
from __future__ import annotations

import argparse
import ipaddress
import signal
import sys

HELP = """Serve the Kubernetes REST API (v1.32-compatible) over an etcd v3 JSON gateway.

The apiserver is the only component that talks to the store: kubectl, the scheduler, the
controller-manager and node agents all go through it. Objects live under
/registry/<resource>/<namespace>/<name>; resourceVersion is the store's mod_revision.
Several apiservers may serve one store at once."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kubeling apiserver", description=HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--etcd-servers", required=True,
                   help="comma-separated store client URLs (kubeling etcd peers or real etcd members); the apiserver fails over between them")
    p.add_argument("--etcd-cafile", default=None, help="CA bundle that the store's https:// certificate must chain to")
    p.add_argument("--etcd-certfile", default=None, help="client certificate presented to a store run with --client-cert-auth")
    p.add_argument("--etcd-keyfile", default=None, help="private key of --etcd-certfile")
    p.add_argument("--bind-address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--advertise-address", default=None,
                   help="the address other components reach this apiserver at (the `kubernetes` Service endpoints); "
                        "defaults to --bind-address, or this host's address when binding to all interfaces")
    p.add_argument("--secure-port", type=int, default=6443,
                   help="port to serve on (plain HTTP for now; TLS arrives in a later release) (default 6443)")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12",
                   help="CIDR from which Service ClusterIPs are allocated (default 10.96.0.0/12)")
    p.add_argument("--service-node-port-range", default="30000-32767",
                   help="port range reserved for NodePort Services (default 30000-32767)")
    p.add_argument("--etcd-compaction-interval", default="5m",
                   help="how often the store is compacted (e.g. 5m, 30s; 0 disables), coordinated between apiservers (default 5m)")
    p.add_argument("--token-auth-file", default=None,
                   help="CSV of bearer tokens (token,user,uid[,\"group1,group2\"]); when set, API requests must present one")
    p.add_argument("--log-level", default="info", help="log level: debug, info, warning, error")
    args = p.parse_args(argv)
    try:
        ipaddress.ip_network(args.service_cluster_ip_range, strict=False)
    except ValueError:
        p.error(f"invalid --service-cluster-ip-range {args.service_cluster_ip_range!r}")
    try:
        lo, hi = (int(x) for x in args.service_node_port_range.split("-"))
        if not 0 < lo <= hi <= 65535:
            raise ValueError
    except ValueError:
        p.error(f"invalid --service-node-port-range {args.service_node_port_range!r} (want e.g. 30000-32767)")
    try:
        args.etcd_compaction_interval = parse_duration(args.etcd_compaction_interval)
    except ValueError:
        p.error(f"invalid --etcd-compaction-interval {args.etcd_compaction_interval!r} (want e.g. 5m or 30s)")
    return args


def parse_duration(text: str) -> float:
    """Go-style durations as upstream flags take them: 300ms, 30s, 5m, 1h, 1h30m, or plain seconds."""
    import re
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(text)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    import uvicorn

    from kubeling.shared import log as klog

    from .registry.catalog import Config
    from .server.app import APIServer, build_app

    logger = klog.setup("apiserver", args.log_level)
    servers = [s.strip() for s in args.etcd_servers.split(",") if s.strip()]
    tokens = None
    if args.token_auth_file:
        from .server.auth import load_tokens
        try:
            tokens = load_tokens(args.token_auth_file)
        except (OSError, ValueError) as e:
            print(f"kubeling apiserver: --token-auth-file: {e}", file=sys.stderr)
            return 2
    advertise = args.advertise_address or args.bind_address
    if advertise in ("0.0.0.0", "::", ""):
        import socket
        advertise = socket.gethostbyname(socket.gethostname())
    from .storage.client import StoreTLS
    store_tls = None
    if args.etcd_cafile or args.etcd_certfile:
        store_tls = StoreTLS(args.etcd_cafile, args.etcd_certfile, args.etcd_keyfile or args.etcd_certfile)
        try:
            store_tls.context()
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            print(f"kubeling apiserver: store TLS files: {e}", file=sys.stderr)
            return 2
    server = APIServer(servers, Config(args.service_cluster_ip_range, args.service_node_port_range),
                       f"{advertise}:{args.secure_port}", compaction_interval=args.etcd_compaction_interval,
                       tokens=tokens, store_tls=store_tls)
    logger.info("starting apiserver", extra={"bind": args.bind_address, "port": args.secure_port, "etcd": ",".join(servers)})
    config = uvicorn.Config(build_app(server), host=args.bind_address, port=args.secure_port, log_config=None,
                            access_log=False, timeout_graceful_shutdown=1, lifespan="on")
    # uvicorn catches SIGTERM, stops accepting, drains and runs shutdown, then re-raises the signal
    # with the previous handler restored; a no-op previous handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run()
    logger.info("apiserver stopped")
    return 0
