"""`kubeling apiserver`: the Kubernetes REST API over kubeling's store (or a real etcd)."""
from __future__ import annotations

import argparse
import ipaddress
import signal
import sys

from kubeling.shared import flags

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
                   help="port to serve on: HTTPS with --tls-cert-file, plain HTTP otherwise (default 6443)")
    p.add_argument("--service-cluster-ip-range", default="10.96.0.0/12",
                   help="CIDR from which Service ClusterIPs are allocated (default 10.96.0.0/12)")
    p.add_argument("--service-node-port-range", default="30000-32767",
                   help="port range reserved for NodePort Services (default 30000-32767)")
    p.add_argument("--etcd-compaction-interval", default="5m",
                   help="how often the store is compacted (e.g. 5m, 30s; 0 disables), coordinated between apiservers (default 5m)")
    p.add_argument("--token-auth-file", default=None,
                   help="CSV of bearer tokens (token,user,uid[,\"group1,group2\"]); when set, API requests must present one")
    p.add_argument("--authorization-mode", default="AlwaysAllow",
                   help="comma-separated authorizers tried in order: AlwaysAllow, AlwaysDeny, Node, RBAC "
                        "(kubeadm uses Node,RBAC) (default AlwaysAllow)")
    p.add_argument("--anonymous-auth", choices=("true", "false"), default=None,
                   help="serve requests that carry no credentials as system:anonymous (default: true only when no "
                        "authenticator is configured; /healthz, /livez, /readyz and /version are always public)")
    p.add_argument("--service-account-key-file", action="append", default=[],
                   help="PEM file of public (or private) keys that verify ServiceAccount tokens; repeatable")
    p.add_argument("--service-account-signing-key-file", default=None,
                   help="PEM private key (RSA or P-256) that signs ServiceAccount tokens (TokenRequest, kubectl create token)")
    p.add_argument("--service-account-issuer", action="append", default=[],
                   help="the `iss` of issued ServiceAccount tokens (the first one); every one given is accepted "
                        "(default https://kubernetes.default.svc.cluster.local)")
    p.add_argument("--api-audiences", default="",
                   help="comma-separated audiences the API accepts in ServiceAccount tokens (default: the issuer)")
    p.add_argument("--service-account-max-token-expiration", default="24h",
                   help="the longest lifetime a TokenRequest may get, e.g. 24h (default 24h)")
    p.add_argument("--client-ca-file", default=None,
                   help="with TLS: client certificates signed by this CA authenticate as CN (user) and O (groups)")
    p.add_argument("--tls-cert-file", default=None, help="serve HTTPS with this certificate (PEM; chain after the leaf)")
    p.add_argument("--tls-private-key-file", default=None, help="the private key of --tls-cert-file")
    p.add_argument("--kubelet-client-certificate", default=None,
                   help="client certificate presented to kubelets (logs, exec, nodes/proxy); kubelets are then reached over HTTPS")
    p.add_argument("--kubelet-client-key", default=None, help="the private key of --kubelet-client-certificate")
    p.add_argument("--kubelet-certificate-authority", default=None,
                   help="CA that kubelets' serving certificates must chain to (without it they are not verified, as upstream)")
    p.add_argument("--encryption-provider-config", default=None,
                   help="EncryptionConfiguration YAML: resources (e.g. secrets) encrypted at rest with aescbc or aesgcm")
    p.add_argument("--enable-admission-plugins", default="",
                   help="admission plugins to enable besides the defaults (NamespaceLifecycle, ServiceAccount, "
                        "DefaultTolerationSeconds, ResourceQuota): NodeRestriction")
    p.add_argument("--log-level", default="info", help="log level: debug, info, warning, error")
    args = p.parse_args(argv)
    known = {"NamespaceLifecycle", "ServiceAccount", "DefaultTolerationSeconds", "ResourceQuota", "NodeRestriction"}
    args.enable_admission_plugins = [x.strip() for x in args.enable_admission_plugins.split(",") if x.strip()]
    for plugin in args.enable_admission_plugins:
        if plugin not in known:
            p.error(f"--enable-admission-plugins: unknown plugin {plugin!r} (known: {', '.join(sorted(known))})")
    from .auth.authz import parse_modes
    try:
        args.authorization_mode = parse_modes(args.authorization_mode)
    except ValueError as e:
        p.error(f"--authorization-mode: {e}")
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    if args.client_ca_file and not args.tls_cert_file:
        p.error("--client-ca-file needs TLS (--tls-cert-file and --tls-private-key-file)")
    if bool(args.kubelet_client_certificate) != bool(args.kubelet_client_key):
        p.error("--kubelet-client-certificate and --kubelet-client-key go together")
    try:
        args.service_account_max_token_expiration = flags.duration(args.service_account_max_token_expiration)
    except argparse.ArgumentTypeError:
        p.error(f"invalid --service-account-max-token-expiration {args.service_account_max_token_expiration!r}")
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
        args.etcd_compaction_interval = flags.duration(args.etcd_compaction_interval)
    except argparse.ArgumentTypeError:
        p.error(f"invalid --etcd-compaction-interval {args.etcd_compaction_interval!r} (want e.g. 5m or 30s)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    import uvicorn

    from kubeling.shared import log as klog

    from .registry.catalog import Config
    from .server.app import APIServer, build_app
    from .server.protocol import hardened

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
    try:
        security, transformer = security_config(args, tokens)
    except (OSError, ValueError) as e:
        print(f"kubeling apiserver: {e}", file=sys.stderr)
        return 2
    kubelet_tls = None
    if args.kubelet_client_certificate or args.kubelet_certificate_authority:
        from .server.subresources import kubelet_client_context
        try:
            kubelet_tls = kubelet_client_context(args.kubelet_client_certificate, args.kubelet_client_key,
                                                 args.kubelet_certificate_authority)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            print(f"kubeling apiserver: kubelet client TLS files: {e}", file=sys.stderr)
            return 2
    server = APIServer(servers, Config(args.service_cluster_ip_range, args.service_node_port_range),
                       f"{advertise}:{args.secure_port}", compaction_interval=args.etcd_compaction_interval,
                       tokens=tokens, store_tls=store_tls, security=security, transformer=transformer,
                       kubelet_tls=kubelet_tls, admission_plugins=tuple(args.enable_admission_plugins))
    logger.info("starting apiserver", extra={"bind": args.bind_address, "port": args.secure_port, "etcd": ",".join(servers)})
    tls: dict = {}
    if args.tls_cert_file:
        import ssl

        from .auth.tls import protocol_class
        tls = {"ssl_certfile": args.tls_cert_file, "ssl_keyfile": args.tls_private_key_file, "http": hardened(protocol_class())}
        if args.client_ca_file:  # optional: a client may authenticate with a token instead
            tls.update(ssl_ca_certs=args.client_ca_file, ssl_cert_reqs=ssl.CERT_OPTIONAL)
    tls.setdefault("http", hardened())  # request heads bounded as Go's net/http bounds them (server/protocol.py)
    config = uvicorn.Config(build_app(server), host=args.bind_address, port=args.secure_port, log_config=None,
                            access_log=False, timeout_graceful_shutdown=1, lifespan="on", **tls)
    # uvicorn catches SIGTERM, stops accepting, drains and runs shutdown, then re-raises the signal
    # with the previous handler restored; a no-op previous handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run()
    logger.info("apiserver stopped")
    return 0


def security_config(args: argparse.Namespace, tokens: dict | None) -> tuple:
    """The SecurityConfig and store transformer the security flags ask for (errors name the flag)."""
    from .auth.jwt import Signer, load_private_key, load_public_keys
    from .auth.serviceaccount import DEFAULT_ISSUER, Issuer, Verifier
    from .server.app import SecurityConfig
    issuers = args.service_account_issuer or [DEFAULT_ISSUER]
    audiences = [a.strip() for a in args.api_audiences.split(",") if a.strip()] or [issuers[0]]
    verifier = issuer = None
    keys = []
    for path in args.service_account_key_file:
        try:
            keys += load_public_keys(path)
        except (OSError, ValueError) as e:
            raise ValueError(f"--service-account-key-file: {e}") from None
    if args.service_account_signing_key_file:
        try:
            signing = load_private_key(args.service_account_signing_key_file)
        except (OSError, ValueError) as e:
            raise ValueError(f"--service-account-signing-key-file: {e}") from None
        issuer = Issuer(Signer(signing), issuers[0], audiences, int(args.service_account_max_token_expiration))
        if not keys:
            keys = [signing.public_key()]
    if keys:
        verifier = Verifier(keys, issuers, audiences)
    anonymous = None if args.anonymous_auth is None else args.anonymous_auth == "true"
    transformer = None
    if args.encryption_provider_config:
        from .storage.encryption import load
        try:
            transformer = load(args.encryption_provider_config)
        except (OSError, ValueError) as e:
            raise ValueError(f"--encryption-provider-config: {e}") from None
    return SecurityConfig(tokens=tokens, modes=args.authorization_mode, verifier=verifier, issuer=issuer,
                          client_certificates=bool(args.client_ca_file), anonymous=anonymous, audiences=audiences), transformer
