"""What `kubeling status` and the live view show: components, the store's Raft state, nodes, pods."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from .procs import running_pid
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
    for url in plan.store_urls:
        try:
            r = http.post(url + "/v3/maintenance/status", content="{}", timeout=1.0).json()
        except (httpx.HTTPError, json.JSONDecodeError):
            continue
        ids[r["header"]["member_id"]] = names[url]
        if r.get("leader"):
            st.raft = {"leader_id": r["leader"], "term": int(r.get("raftTerm", 0)),
                       "revision": int(r["header"].get("revision", 0))}
    if st.raft:
        st.raft["leader"] = ids.get(st.raft["leader_id"], st.raft["leader_id"])
    nodes = _get(http, plan.api_url + "/api/v1/nodes")
    pods = _get(http, plan.api_url + "/api/v1/pods")
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
