"""What `kubeling status` and the live view show: components, the store's Raft state, nodes, pods."""
from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field

import httpx

from .procs import running_pid
from .security import ADMIN, ClusterCredentials
from .state import ClusterDir, Plan


@dataclass
class ComponentStatus:
    name: str
    kind: str
    pid: int | None
    healthy: bool | None  # None: no health endpoint, process state only
    detail: str = ""


@dataclass
class ClusterStatus:
    components: list[ComponentStatus] = field(default_factory=list)
    raft: dict = field(default_factory=dict)  # leader, term, revision
    nodes: list[dict] = field(default_factory=list)  # name, ready, pods
    pods: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"components": [vars(c) for c in self.components], "raft": self.raft, "nodes": self.nodes,
                "pods": self.pods}


_client: httpx.Client | None = None


def client() -> httpx.Client:
    """The launcher's one HTTP client for health checks and API polls. It verifies no certificates
    because it speaks plain HTTP: a verifying client loads the CA bundle when it is built (~7 MB
    and up to a second of CPU), and `kubeling up` polls ten times a second."""
    global _client
    if _client is None:
        _client = httpx.Client(verify=False, timeout=2.0)
    return _client


_secured: dict[tuple[str, str], httpx.Client] = {}


def credentials(cdir: ClusterDir, plan: Plan) -> ClusterCredentials | None:
    """The cluster's credentials when it runs secured (`kubeling up --tls`), else None."""
    return ClusterCredentials(cdir.root) if plan.settings.get("tls") else None


def client_options(cdir: ClusterDir, plan: Plan, target: str) -> dict:
    """httpx options for the launcher's own calls to a secured cluster: as kubernetes-admin to the
    API (`target="api"`), with kubeadm's healthcheck-client certificate to the store ("store"),
    trusting only the cluster's CA (a context with one CA file is cheap, unlike the system bundle).
    An unsecured cluster needs nothing: plain HTTP, no certificates to verify."""
    creds = credentials(cdir, plan)
    if creds is None:
        return {"verify": False}
    if target == "api":
        return {"verify": ssl.create_default_context(cafile=str(creds.ca)),
                "headers": {"Authorization": f"Bearer {creds.read_tokens()[ADMIN]}"}}
    ca, (cert, key) = creds.store_client()
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    return {"verify": ctx}


def _secured_client(cdir: ClusterDir, plan: Plan, target: str) -> httpx.Client:
    if credentials(cdir, plan) is None:
        return client()
    key = (str(cdir.root), target)
    if key not in _secured:
        _secured[key] = httpx.Client(timeout=2.0, **client_options(cdir, plan, target))
    return _secured[key]


def api_client(cdir: ClusterDir, plan: Plan) -> httpx.Client:
    return _secured_client(cdir, plan, "api")


def store_client(cdir: ClusterDir, plan: Plan) -> httpx.Client:
    return _secured_client(cdir, plan, "store")


def _get(http: httpx.Client, url: str) -> httpx.Response | None:
    try:
        return http.get(url, timeout=1.0)
    except httpx.HTTPError:
        return None


def collect(cdir: ClusterDir, plan: Plan) -> ClusterStatus:
    st = ClusterStatus()
    http = client()
    for comp in plan.components:
        pid = running_pid(cdir, comp)
        healthy: bool | None = None
        if pid is None:
            healthy = False
        elif comp.health_url:
            r = _get(http, comp.health_url)
            healthy = r is not None and r.status_code == 200
        st.components.append(ComponentStatus(comp.name, comp.kind, pid, healthy))
    names = {}
    for comp, url in zip(plan.of_kind("etcd"), plan.store_urls):
        names[url] = comp.name
    ids = {}
    store = store_client(cdir, plan)
    for url in plan.store_urls:
        try:
            r = store.post(url + "/v3/maintenance/status", content="{}", timeout=1.0).json()
        except (httpx.HTTPError, json.JSONDecodeError):
            continue
        ids[r["header"]["member_id"]] = names[url]
        if r.get("leader"):
            st.raft = {"leader_id": r["leader"], "term": int(r.get("raftTerm", 0)),
                       "revision": int(r["header"].get("revision", 0))}
    if st.raft:
        st.raft["leader"] = ids.get(st.raft["leader_id"], st.raft["leader_id"])
    api = api_client(cdir, plan)
    nodes = _get(api, plan.api_url + "/api/v1/nodes")
    pods = _get(api, plan.api_url + "/api/v1/pods")
    if nodes is not None and nodes.status_code == 200:
        for n in nodes.json().get("items", []):
            ready = next((c["status"] for c in n.get("status", {}).get("conditions", []) if c["type"] == "Ready"),
                         "Unknown")
            st.nodes.append({"name": n["metadata"]["name"], "ready": ready})
    if pods is not None and pods.status_code == 200:
        for p in pods.json().get("items", []):
            st.pods.append({"namespace": p["metadata"]["namespace"], "name": p["metadata"]["name"],
                            "node": p.get("spec", {}).get("nodeName", ""),
                            "phase": p.get("status", {}).get("phase", ""),
                            "ip": p.get("status", {}).get("podIP", "")})
    return st
