"""Loading a kubeconfig the way client-go's clientcmd does, for kubeling's components.

Only what a component needs: the current context's cluster server(s), its bearer token (inline
or `tokenFile`) or client certificate (file or `-data`), TLS trust (`certificate-authority` or
`certificate-authority-data`, as kubeadm writes them), and the default namespace. kubeling adds one extension: the
cluster's `server` may be a comma-separated list of apiserver URLs, and the client fails over
between them in order, so a node agent survives the loss of one apiserver.
"""
from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class KubeconfigError(ValueError):
    pass


@dataclass
class ClientConfig:
    servers: list[str]
    token: str | None = None
    namespace: str = "default"
    verify: bool | str | ssl.SSLContext = True
    cert: tuple[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _ssl: ssl.SSLContext | None = field(default=None, init=False, repr=False, compare=False)

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings of `verify` and `cert` as one SSLContext (built once, then shared by
        every client of the component): `verify` is a context to use as it is, a CA bundle path,
        True (the system's trust store) or False (no verification at all, no hostname check);
        `cert` the client certificate and key files, loaded into that context."""
        if self._ssl is None:
            v = self.verify
            ctx = v if isinstance(v, ssl.SSLContext) else _context(v)
            if self.cert:
                ctx.load_cert_chain(*self.cert)
            self._ssl = ctx
        return self._ssl


def _named(items: list[dict[str, Any]] | None, name: str, what: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return item.get(what) or {}
    raise KubeconfigError(f"{what} {name!r} not found in kubeconfig")


def _resolve(base: Path, p: str) -> str:
    return str(p if os.path.isabs(p) else base / p)


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as e:
        raise KubeconfigError(f"invalid base64 in kubeconfig: {e}") from None


def _context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


def _load_chain_data(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """ssl loads a certificate chain only from files: write the inline data to a private temp
    file, load it, and remove it at once."""
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as f:  # created 0600
        f.write(cert + b"\n" + key)
        f.flush()
        try:
            ctx.load_cert_chain(f.name)
        except ssl.SSLError as e:
            raise KubeconfigError(f"client-certificate-data / client-key-data: {e}") from None


def parse(text: str, base: Path | None = None, context: str | None = None) -> ClientConfig:
    """A ClientConfig from kubeconfig text; relative file paths resolve against `base`."""
    base = base or Path.cwd()
    doc = yaml.safe_load(text) or {}
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        contexts = doc.get("contexts") or []
        if len(contexts) != 1:
            raise KubeconfigError("kubeconfig has no current-context")
        ctx_name = contexts[0].get("name")
    ctx = _named(doc.get("contexts"), ctx_name, "context")
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(doc.get("users"), ctx["user"], "user") if ctx.get("user") else {}
    servers = [s.strip().rstrip("/") for s in str(cluster.get("server") or "").split(",") if s.strip()]
    if not servers:
        raise KubeconfigError(f"cluster {ctx.get('cluster')!r} has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(_resolve(base, user["tokenFile"])).read_text().strip()
    verify: bool | str | ssl.SSLContext = True
    if not any(s.startswith("https://") for s in servers):
        verify = False  # plain HTTP: no TLS, so no trust store to load (~7 MB and 0.1-1 s per process)
    elif cluster.get("insecure-skip-tls-verify"):
        verify = False
    elif cluster.get("certificate-authority-data"):
        verify = ssl.create_default_context(cadata=_b64(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        verify = _resolve(base, cluster["certificate-authority"])
    cert = None
    if user.get("client-certificate-data") and user.get("client-key-data"):
        if not isinstance(verify, ssl.SSLContext):
            verify = _context(verify)
        _load_chain_data(verify, _b64(user["client-certificate-data"]), _b64(user["client-key-data"]))
    elif user.get("client-certificate") and user.get("client-key"):
        cert = (_resolve(base, user["client-certificate"]), _resolve(base, user["client-key"]))
    return ClientConfig(servers=servers, token=token, namespace=ctx.get("namespace") or "default", verify=verify, cert=cert)


def load(path: str | os.PathLike[str] | None = None, context: str | None = None,
         server: str | None = None) -> ClientConfig:
    """Load `path` (else $KUBECONFIG's first file, else ~/.kube/config); `server` overrides the URL(s)."""
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        path = env.split(os.pathsep)[0] if env else Path.home() / ".kube" / "config"
    p = Path(path)
    if not p.exists():
        if server:
            return ClientConfig(servers=[s.strip().rstrip("/") for s in server.split(",") if s.strip()])
        raise KubeconfigError(f"kubeconfig {p} does not exist")
    cfg = parse(p.read_text(), p.parent, context)
    if server:
        cfg.servers = [s.strip().rstrip("/") for s in server.split(",") if s.strip()]
    return cfg
