"""`kubeling etcd`: one member of kubeling's Raft-replicated, etcd-compatible store.

Flags are etcd's, so a CKA student can read a kubeling member's command line as they would read
an etcd static pod manifest:

    kubeling etcd --name etcd-0 --data-dir /var/lib/etcd-0 \\
      --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \\
      --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \\
      --initial-cluster etcd-0=http://127.0.0.1:2380,etcd-1=http://127.0.0.1:2382,etcd-2=http://127.0.0.1:2384 \\
      --initial-cluster-state new --peer-secret-file /etc/kubeling/pki/etcd-peer-secret

One flag is kubeling's own: `--peer-secret-file`, the key that authenticates Raft messages
(raftauth.py). pysyncobj's messages are pickles, so a member with peers refuses to start without
it; the cluster token, visible to anyone in `ps`, is never key material.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

from kubeling.shared import log as klog
from kubeling.shared.flags import boolean

from .members import Cluster, parse_initial_cluster, split_urls, url_hostport
from .peertls import PeerTLSFiles
from .raftauth import SECRET_BYTES, read_secret_file
from .raftnode import RaftSettings
from .server import EtcdServer, ServerOptions, parse_duration

log = logging.getLogger("etcd")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubeling etcd",
        description="Run one member of kubeling's Raft-replicated key-value store. It speaks etcd v3's JSON "
                    "gateway on its client URLs (so the apiserver, etcdctl and kvdiff can use it like etcd) and "
                    "replicates every write through Raft (pysyncobj) to a majority of the members listed in "
                    "--initial-cluster before acknowledging it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--name", default="default", help="human-readable name of this member; must be a key of --initial-cluster")
    p.add_argument("--data-dir", help="where the Raft journal and snapshots live (default: <name>.etcd)")
    p.add_argument("--listen-client-urls", default="http://127.0.0.1:2379", help="comma-separated URLs to serve clients on")
    p.add_argument("--advertise-client-urls", help="client URLs announced to the cluster (default: --listen-client-urls)")
    p.add_argument("--listen-peer-urls", default="http://127.0.0.1:2380", help="URL to accept Raft traffic on (first one is used)")
    p.add_argument("--initial-advertise-peer-urls", help="this member's peer URLs as the others reach it (default: --listen-peer-urls)")
    p.add_argument("--initial-cluster", help="name=peerURL,... of every member (default: <name>=<advertise peer URL>)")
    p.add_argument("--initial-cluster-state", choices=["new", "existing"], default="new",
                   help="'new' bootstraps a cluster; 'existing' joins members that already run (membership is static)")
    p.add_argument("--initial-cluster-token", default="etcd-cluster",
                   help="cluster token, as etcd's: part of member and cluster IDs (public: never a key)")
    p.add_argument("--peer-secret-file",
                   help="file (mode 0600, non-empty) whose bytes authenticate Raft messages between members with "
                        "HMAC-SHA256; the same file on every member. Needed when --initial-cluster has other members; "
                        "it authenticates, it does not encrypt (encryption on the wire: https:// peer URLs)")
    p.add_argument("--listen-metrics-urls", default="",
                   help="comma-separated plain-HTTP URLs serving only /health, /livez, /readyz, /metrics and /version "
                        "(no client certificate needed; for probes and monitoring)")
    p.add_argument("--peer-cert-file", help="TLS certificate for https:// peer URLs (served and presented to other members)")
    p.add_argument("--peer-key-file", help="private key of --peer-cert-file")
    p.add_argument("--peer-trusted-ca-file", help="CA bundle the other members' peer certificates must chain to")
    p.add_argument("--peer-client-cert-auth", type=boolean, nargs="?", const=True, default=False,
                   help="accept Raft connections only from members presenting a certificate of --peer-trusted-ca-file")
    p.add_argument("--cert-file", help="TLS certificate served on https:// client URLs")
    p.add_argument("--key-file", help="private key of --cert-file")
    p.add_argument("--trusted-ca-file", help="CA bundle that client certificates must chain to (with --client-cert-auth)")
    p.add_argument("--client-cert-auth", type=boolean, nargs="?", const=True, default=False,
                   help="accept only clients presenting a certificate signed by --trusted-ca-file (https:// only)")
    p.add_argument("--heartbeat-interval", type=int, default=100, help="Raft heartbeat interval, ms")
    p.add_argument("--election-timeout", type=int, default=1000, help="Raft election timeout, ms")
    p.add_argument("--max-request-bytes", type=int, default=1572864, help="largest client write request accepted")
    p.add_argument("--max-txn-ops", type=int, default=128, help="most operations in one txn")
    p.add_argument("--auto-compaction-mode", choices=["periodic", "revision"], default="periodic",
                   help="periodic: keep --auto-compaction-retention of time; revision: keep that many revisions")
    p.add_argument("--auto-compaction-retention", default="0",
                   help="history to keep ('0' = never compact automatically; '1h', '30m', bare number = hours)")
    p.add_argument("--snapshot-count", type=int, default=10000, help="Raft entries between snapshots of the store")
    p.add_argument("--request-timeout", type=float, default=5.0,
                   help="seconds a request waits for Raft (no quorum => etcd's timeout errors after this)")
    p.add_argument("--experimental-watch-progress-notify-interval", default="10m",
                   help="how often watches with progress_notify get a progress message")
    p.add_argument("--max-inflight-entries", type=int, default=2,
                   help="Raft entries this member keeps in flight; requests arriving meanwhile are grouped into the next")
    p.add_argument("--raft-tick", choices=["loop", "thread"], default="loop",
                   help="run Raft on the HTTP event loop (fewer thread hand-offs) or on pysyncobj's own thread")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def _client_tls(urls: list[str], args: argparse.Namespace) -> dict[str, object]:
    """uvicorn's TLS settings for the client URLs, checked the way etcd checks them.

    All client URLs share one scheme (one server, one TLS context). With --client-cert-auth the
    handshake itself rejects a client without a certificate from --trusted-ca-file, so no request
    of an unauthenticated client ever reaches the gateway, as with etcd."""
    schemes = {urlsplit(u).scheme for u in urls}
    if not schemes <= {"http", "https"}:
        raise ValueError(f"client URLs must be http:// or https://: {','.join(urls)}")
    if len(schemes) > 1:
        raise ValueError("client URLs must all be http:// or all https://")
    if schemes == {"http"}:
        if args.client_cert_auth:
            raise ValueError("--client-cert-auth needs https:// client URLs")
        return {}
    if not (args.cert_file and args.key_file):
        raise ValueError("https:// client URLs need --cert-file and --key-file")
    tls: dict[str, object] = {"ssl_certfile": args.cert_file, "ssl_keyfile": args.key_file}
    if args.client_cert_auth:
        if not args.trusted_ca_file:
            raise ValueError("--client-cert-auth needs --trusted-ca-file")
        tls.update(ssl_ca_certs=args.trusted_ca_file, ssl_cert_reqs=ssl.CERT_REQUIRED)
    return tls


def _peer_tls(listen_peer: str, advertise_peer: list[str], args: argparse.Namespace) -> PeerTLSFiles | None:
    """etcd's peer TLS flags, checked as etcd checks them. http:// peers need none: their traffic
    is still authenticated with --peer-secret-file (readable on the wire, as a real etcd's)."""
    schemes = {urlsplit(u).scheme for u in [listen_peer, *advertise_peer]}
    if not schemes <= {"http", "https"} or len(schemes) > 1:
        raise ValueError("peer URLs must all be http:// or all https://")
    if schemes == {"http"}:
        if args.peer_client_cert_auth:
            raise ValueError("--peer-client-cert-auth needs https:// peer URLs")
        return None
    if not (args.peer_cert_file and args.peer_key_file and args.peer_trusted_ca_file):
        raise ValueError("https:// peer URLs need --peer-cert-file, --peer-key-file and --peer-trusted-ca-file")
    if args.raft_tick != "loop":
        raise ValueError("https:// peer URLs need --raft-tick loop (the TLS relay runs on the event loop)")
    files = PeerTLSFiles(args.peer_cert_file, args.peer_key_file, args.peer_trusted_ca_file, args.peer_client_cert_auth)
    files.server_context()  # load now: a bad file is a configuration error, not a crash later
    files.client_context()
    return files


def _client_sockets(urls: list[str]) -> list[socket.socket]:
    socks = []
    for url in urls:
        host, port = url_hostport(url).rsplit(":", 1)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        s.listen(2048)
        s.setblocking(False)
        socks.append(s)
    return socks


def _peer_secret(path: str | None, peers: int) -> bytes:
    """The key material of Raft message authentication (raftauth.py): --peer-secret-file's bytes.

    A member with peers must have the file: pysyncobj unpickles what arrives on its port, and
    nothing visible (a flag, the cluster token in `ps`) may let another local user sign a message.
    A member without peers needs none, but pysyncobj still listens: it gets random bytes that
    exist only in this process, so whatever arrives there is refused unloaded."""
    if path:
        return read_secret_file(path)
    if peers:
        raise ValueError(f"--initial-cluster lists {peers} other member(s): --peer-secret-file is required "
                         f"(a file of random bytes, mode 0600, the same on every member, e.g. "
                         f"`head -c 32 /dev/urandom > secret && chmod 600 secret`); it authenticates Raft "
                         f"messages, which are pickles")
    return secrets.token_bytes(SECRET_BYTES)


def _check_data_dir(data_dir: Path, name: str, token: str, cluster: str) -> None:
    """Refuse to start a member on another member's (or another cluster's) data."""
    meta_path = data_dir / "member" / "member.json"
    meta = {"name": name, "token": token, "initial_cluster": cluster}
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if old.get("name") != name or old.get("token") != token:
            raise ValueError(f"data dir {data_dir} belongs to member {old.get('name')!r} of cluster token "
                             f"{old.get('token')!r}, not {name!r}/{token!r}")
        return
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    klog.setup("etcd", args.log_level)
    try:
        listen_client = split_urls(args.listen_client_urls)
        advertise_client = split_urls(args.advertise_client_urls or args.listen_client_urls)
        listen_peer = split_urls(args.listen_peer_urls)[0]
        advertise_peer = split_urls(args.initial_advertise_peer_urls or args.listen_peer_urls)
        initial_cluster = args.initial_cluster or ",".join(f"{args.name}={u}" for u in advertise_peer)
        members = parse_initial_cluster(initial_cluster)
        if args.name in members and url_hostport(members[args.name].peer_urls[0]) != url_hostport(advertise_peer[0]):
            raise ValueError(f"--initial-cluster has {members[args.name].peer_urls[0]} for {args.name}, "
                             f"but --initial-advertise-peer-urls is {advertise_peer[0]}")
        peer_tls = _peer_tls(listen_peer, advertise_peer, args)
        cluster = Cluster(args.name, members, args.initial_cluster_token)
        secret = _peer_secret(args.peer_secret_file, peers=len(cluster.peer_addresses()))
        data_dir = Path(args.data_dir or f"{args.name}.etcd")
        _check_data_dir(data_dir, args.name, args.initial_cluster_token, initial_cluster)
        progress = parse_duration(args.experimental_watch_progress_notify_interval)
        if args.auto_compaction_mode == "periodic":
            parse_duration(args.auto_compaction_retention)
        else:
            int(args.auto_compaction_retention)
        tls = _client_tls(listen_client, args)
        if tls:  # load now, so a bad certificate is a configuration error, not a crash later
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(args.cert_file, args.key_file)
            if args.client_cert_auth:
                ctx.load_verify_locations(args.trusted_ca_file)
        socks = _client_sockets(listen_client)
        metrics_urls = split_urls(args.listen_metrics_urls) if args.listen_metrics_urls else []
        if any(urlsplit(u).scheme != "http" for u in metrics_urls):
            raise ValueError("--listen-metrics-urls must be http:// URLs")
        metrics_socks = _client_sockets(metrics_urls)
    except (ValueError, OSError, ssl.SSLError) as e:
        log.error(f"invalid configuration: {e}")
        print(f"kubeling etcd: {e}", file=sys.stderr)
        return 2
    if args.initial_cluster_state == "existing":
        log.info("joining an existing cluster: membership is static, state comes from the leader")
    raft = RaftSettings(
        data_dir=data_dir, listen_peer=url_hostport(listen_peer), secret=secret,
        heartbeat_ms=args.heartbeat_interval, election_ms=args.election_timeout,
        snapshot_entries=args.snapshot_count, request_timeout=args.request_timeout,
        peers=len(members) - 1, tick_on_loop=args.raft_tick == "loop",
    )
    opts = ServerOptions(
        client_urls=advertise_client, max_request_bytes=args.max_request_bytes, max_txn_ops=args.max_txn_ops,
        auto_compaction_mode=args.auto_compaction_mode, auto_compaction_retention=args.auto_compaction_retention,
        progress_notify_interval=progress or 600.0, max_inflight_entries=max(1, args.max_inflight_entries),
    )
    # With `--raft-tick thread` every write crosses threads (event loop -> Raft tick thread -> event
    # loop). CPython hands the GIL to a waiting thread only every switch interval (5 ms by default),
    # which would add up to that much to each hop whenever the other thread is busy; 0.5 ms keeps
    # hops short. (The default loop mode has no hops; uvicorn's and pysyncobj's helper threads
    # still benefit.)
    sys.setswitchinterval(float(os.environ.get("KUBELING_SWITCH_INTERVAL", "0.0005")))
    server = EtcdServer(cluster, raft, opts)
    server.peer_tls = peer_tls
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    # uvicorn catches SIGTERM, stops serving, then re-raises the signal with the previous handler
    # restored; a no-op previous handler lets the member finish its shutdown and exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    runner(_serve(server, socks, tls, metrics_socks))
    return 0


async def _serve(server: EtcdServer, socks: list[socket.socket], tls: dict[str, object],
                 metrics_socks: list[socket.socket]) -> None:
    import uvicorn

    from .gateway import make_app, make_metrics_app

    await server.start()
    # ws="none": the gateway serves no WebSockets, and uvicorn would otherwise import the
    # websockets package into every member (1.4 MB each).
    config = uvicorn.Config(make_app(server), lifespan="off", log_level="warning", access_log=False,
                            http="httptools", ws="none", timeout_keep_alive=75, **tls)  # type: ignore[arg-type]
    web = uvicorn.Server(config)
    # The metrics listener is a second server on the same loop. Only the main server's serve()
    # owns the signal handlers; this one is started and stopped around it.
    metrics = uvicorn.Server(uvicorn.Config(make_metrics_app(server), lifespan="off", log_level="warning",
                                            access_log=False, http="httptools", ws="none"))
    if metrics_socks:
        metrics.config.load()
        metrics.lifespan = metrics.config.lifespan_class(metrics.config)
        await metrics.startup(sockets=metrics_socks)
    try:
        await web.serve(sockets=socks)  # returns on SIGTERM / SIGINT
    finally:
        log.info("shutting down")
        if metrics_socks and metrics.started:
            await metrics.shutdown(sockets=metrics_socks)
        await server.stop()
