"""`kubeling certs` (services/launcher/certs.py) and the compose file that runs it.

The command must lay out everything a secured cluster needs, keep it on a second run (a restarted
compose cluster keeps its CA, tokens and encryption key), and the flags docker-compose.yml writes
out by hand must be exactly the ones ClusterCredentials gives `kubeling up`, with paths that the
certs service really writes.
"""
from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from kubeling.services.launcher.certs import parse_nodes
from kubeling.services.launcher.security import ClusterCredentials, _san_addresses
from kubeling.shared.kubeconfig import parse

from kubeling.cli import main as kubeling

REPO = Path(__file__).resolve().parents[3]
HOSTS = "apiserver,10.240.0.2,etcd-0,10.240.0.10"
NODES = "node-1=10.240.0.21,node-2=10.240.0.22"


def certs(tmp_path: Path, *extra: str, hosts: str = HOSTS) -> int:
    return kubeling(["certs", "--dir", str(tmp_path / "etc"), "--cluster-name", "demo",
                     "--server", "https://apiserver:6443", "--hosts", hosts, "--nodes", NODES,
                     "--admin-kubeconfig", str(tmp_path / "out" / "kubeconfig"),
                     "--admin-server", "https://127.0.0.1:16443", *extra])


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_certs_writes_pki_and_a_kubeconfig_per_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert certs(tmp_path) == 0
    creds = ClusterCredentials(tmp_path / "etc")
    assert set(creds.read_tokens()) == {"admin", "scheduler", "controller-manager", "kubelet-node-1", "kubelet-node-2"}
    for key, user in [("scheduler", "system:kube-scheduler"), ("kubelet-node-2", "system:node:node-2")]:
        cfg = yaml.safe_load(creds.kubeconfig(key).read_text())
        assert cfg["clusters"][0]["cluster"]["server"] == "https://apiserver:6443"
        assert cfg["users"][0]["name"] == user
        assert cfg["users"][0]["user"]["token"] == creds.read_tokens()[key]
        assert creds.kubeconfig(key).stat().st_mode & 0o777 == 0o600
    # the host's copy: the published port, the CA as data and beside it
    host = tmp_path / "out" / "kubeconfig"
    cfg = parse(host.read_text(), host.parent)
    assert cfg.servers == ["https://127.0.0.1:16443"]
    assert cfg.token == creds.read_tokens()["admin"]
    assert (tmp_path / "out" / "ca.crt").read_bytes() == creds.ca.read_bytes()
    assert host.stat().st_mode & 0o777 == 0o600
    ssl.create_default_context(cafile=str(tmp_path / "out" / "ca.crt"))
    # serving certificates: the apiserver's and the store's for --hosts, each kubelet's for its address
    for stem in ("apiserver", "etcd-server"):
        assert {"127.0.0.1", "localhost", *HOSTS.split(",")} <= _san_addresses(creds.cert(stem).read_bytes())
    assert _san_addresses(creds.cert("kubelet-node-2-server").read_bytes()) == {"10.240.0.22", "node-2"}
    assert "wrote" in capsys.readouterr().out


def test_a_second_run_keeps_every_file(tmp_path: Path) -> None:
    certs(tmp_path)
    first = snapshot(tmp_path)
    # ClusterCredentials.ensure() writes tokens.csv back each time (same content); the rest is not even rewritten
    def mtimes() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file() and p.name != "tokens.csv"}
    before = mtimes()
    certs(tmp_path)
    assert snapshot(tmp_path) == first
    assert mtimes() == before


def test_new_hosts_reissue_only_the_serving_certificates(tmp_path: Path) -> None:
    certs(tmp_path)
    creds = ClusterCredentials(tmp_path / "etc")
    before = snapshot(creds.pki)
    certs(tmp_path, hosts=HOSTS + ",10.240.5.2")
    after = snapshot(creds.pki)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"apiserver.crt", "apiserver.key", "etcd-server.crt", "etcd-server.key",
                       "etcd-peer.crt", "etcd-peer.key"}
    assert "10.240.5.2" in _san_addresses(creds.cert("apiserver").read_bytes())
    issuer = x509.load_pem_x509_certificate(creds.cert("apiserver").read_bytes()).issuer
    assert issuer == x509.load_pem_x509_certificate(creds.ca.read_bytes()).subject  # the same CA


def test_export_copies_only_what_a_component_reads(tmp_path: Path) -> None:
    certs(tmp_path, "--export", f"kubelet-node-1={tmp_path}/n1", "--export", f"apiserver={tmp_path}/api")
    n1 = {str(p.relative_to(tmp_path / "n1")) for p in (tmp_path / "n1").rglob("*") if p.is_file()}
    assert n1 == {"kubeconfigs/kubelet-node-1.conf", "pki/ca.crt", "pki/kubelet-node-1-server.crt",
                  "pki/kubelet-node-1-server.key"}
    api = {p.name for p in (tmp_path / "api" / "pki").iterdir()}
    assert "tokens.csv" in api and "sa.key" in api and "ca.key" not in api and "admin.key" not in api
    assert (tmp_path / "api" / "pki" / "sa.key").stat().st_mode & 0o777 == 0o600  # modes kept
    with pytest.raises(SystemExit, match="kubelet-node-9"):
        certs(tmp_path, "--export", f"kubelet-node-9={tmp_path}/n9")


def test_parse_nodes_refuses_entries_without_address() -> None:
    assert parse_nodes("node-1=10.0.0.1, node-2=10.0.0.2") == {"node-1": "10.0.0.1", "node-2": "10.0.0.2"}
    with pytest.raises(Exception, match="NODE=IP"):
        parse_nodes("node-1")


# --- docker-compose.yml ---------------------------------------------------------------------------
def compose_services() -> dict[str, dict]:
    """The compose file with every ${VAR:-default} at its default, as `docker compose config` would."""
    text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", (REPO / "docker-compose.yml").read_text())
    return yaml.safe_load(text)["services"]


def contains_in_order(command: list[str], args: list[str]) -> bool:
    """`args` appear in `command` as one contiguous run."""
    return any(command[i:i + len(args)] == args for i in range(len(command) - len(args) + 1))


def test_compose_passes_the_flags_kubeling_up_passes(tmp_path: Path) -> None:
    services = compose_services()
    certs_cmd = services["certs"]["command"]
    assert certs_cmd[0] == "certs" and services["certs"]["restart"] == "no"
    # run the certs service's own command here, then compare with what the services are given
    dir_at = certs_cmd.index("--dir") + 1
    root = tmp_path / "etc-kubeling"
    argv = [*certs_cmd[:dir_at], str(root), *certs_cmd[dir_at + 1:]]
    argv[argv.index("--admin-kubeconfig") + 1] = str(tmp_path / "out" / "kubeconfig")
    argv = [a.replace("=/export/", f"={tmp_path}/export/") for a in argv]
    assert kubeling(argv) == 0
    # where each volume the certs service fills is, here
    volumes = {v.split(":")[0]: Path(v.split(":")[1].replace("/export/", f"{tmp_path}/export/"))
               for v in services["certs"]["volumes"] if v.split(":")[1].startswith("/export/")}
    creds = ClusterCredentials(root)

    def in_container(args: list[str]) -> list[str]:
        return [a.replace(str(root), "/etc/kubeling") for a in args]

    assert certs_cmd[dir_at] == "/etc/kubeling"
    for name in ("etcd-0", "etcd-1", "etcd-2"):
        cmd = services[name]["command"]
        assert contains_in_order(cmd, in_container(creds.etcd_args())), name
        assert all(u.startswith("https://") for u in cmd[cmd.index("--listen-client-urls") + 1].split(","))
        assert services[name]["depends_on"]["certs"] == {"condition": "service_completed_successfully"}
    api = services["apiserver"]["command"]
    assert contains_in_order(api, in_container(creds.apiserver_args() + creds.kubelet_apiserver_args()))
    for component in ("scheduler", "controller-manager"):
        cmd = services[component]["command"]
        assert cmd[cmd.index("--kubeconfig") + 1] == in_container([str(creds.kubeconfig(component))])[0]
        assert "--master" not in cmd
    for i in (1, 2, 3):
        cmd = services[f"node-{i}"]["command"]
        ip = cmd[cmd.index("--node-ip") + 1]
        assert cmd[cmd.index("--kubeconfig") + 1] == in_container([str(creds.kubeconfig(f"kubelet-node-{i}"))])[0]
        assert contains_in_order(cmd, in_container(creds.kubelet_args(f"node-{i}", ip, healthz_port=10248)))
        assert ip in _san_addresses(creds.cert(f"kubelet-node-{i}-server").read_bytes())
        assert "10248" in " ".join(services[f"node-{i}"]["healthcheck"]["test"])
    # every service but the init one waits for it and mounts, read-only, a volume holding exactly
    # the files its command names: no CA key, no one else's credentials
    for name, svc in services.items():
        if name == "certs":
            continue
        assert svc["depends_on"]["certs"] == {"condition": "service_completed_successfully"}, name
        (mount,) = [v for v in svc["volumes"] if ":/etc/kubeling" in v]
        volume, _, mode = mount.split(":")
        assert mode == "ro", name
        have = {str(p.relative_to(volumes[volume])) for p in volumes[volume].rglob("*") if p.is_file()}
        named = {a.removeprefix("/etc/kubeling/") for a in svc["command"] if a.startswith("/etc/kubeling/")}
        assert named <= have, (name, named - have)
        extra = {"pki/healthcheck-client.crt", "pki/healthcheck-client.key"} if name.startswith("etcd-") else set()
        if name.startswith("etcd-"):  # the Raft peer secret: the members' own, private, from the certs service
            assert "pki/etcd-peer-secret" in named, name
            assert (volumes[volume] / "pki/etcd-peer-secret").stat().st_mode & 0o777 == 0o600, name
        assert have == named | extra, (name, have - named)
        assert "pki/ca.key" not in have and "kubeconfig" not in have, name
    # the store's clients reach members by name: the store's certificate must cover the names
    servers = next(a for a in api if a.startswith("--etcd-servers=")).removeprefix("--etcd-servers=")
    for url in servers.split(","):
        assert url.split("//")[1].split(":")[0] in _san_addresses(creds.cert("etcd-server").read_bytes())
