"""Where a local cluster lives: one directory per cluster name, holding everything about it.

    $KUBELING_HOME/<name>/            (KUBELING_HOME defaults to ~/.kubeling)
        cluster.json                  the plan: every component's command line and ports
        kubeconfig                    for kubectl and the components
        pids/<component>.pid          what is running, by PID
        pids/<component>.stopped      stopped by the user (kill, down): not to be restarted
        logs/<component>.log          each component's stderr/stdout
        data/etcd-N/                  store members' data dirs

`kubeling up` again with the same name reuses the plan (same ports, same data), so a cluster
survives `down`/`up` like a real one survives a reboot.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("KUBELING_HOME", Path.home() / ".kubeling"))


@dataclass
class Component:
    name: str  # etcd-0, kube-apiserver-0, node-1, ...
    kind: str  # etcd | apiserver | scheduler | controller-manager | node
    args: list[str]  # arguments after `kubeling`
    health_url: str = ""  # where "healthy" is checked (empty: process alive is enough)

    def flag(self, name: str) -> str:
        """The value of `--name value` or `--name=value` in its command line ('' when absent)."""
        for i, a in enumerate(self.args):
            if a == name and i + 1 < len(self.args):
                return self.args[i + 1]
            if a.startswith(name + "="):
                return a.split("=", 1)[1]
        return ""


@dataclass
class Plan:
    name: str
    components: list[Component] = field(default_factory=list)
    api_url: str = ""
    store_urls: list[str] = field(default_factory=list)
    node_ips: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def get(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components if c.kind == kind]


class ClusterDir:
    def __init__(self, name: str, under: Path | None = None) -> None:
        self.name = name
        self.root = (under or home()) / name

    @property
    def plan_path(self) -> Path:
        return self.root / "cluster.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def pid_path(self, component: str) -> Path:
        return self.root / "pids" / f"{component}.pid"

    def stopped_path(self, component: str) -> Path:
        return self.root / "pids" / f"{component}.stopped"

    def log_path(self, component: str) -> Path:
        return self.root / "logs" / f"{component}.log"

    def data_dir(self, component: str) -> Path:
        return self.root / "data" / component

    def exists(self) -> bool:
        return self.plan_path.exists()

    def load(self) -> Plan:
        raw = json.loads(self.plan_path.read_text())
        raw["components"] = [Component(**c) for c in raw["components"]]
        return Plan(**raw)

    def save(self, plan: Plan) -> None:
        for sub in ("pids", "logs", "data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.plan_path.write_text(json.dumps(asdict(plan), indent=1))

    def pid(self, component: str) -> int | None:
        try:
            return int(self.pid_path(component).read_text().strip())
        except (OSError, ValueError):
            return None


def known_clusters() -> list[str]:
    root = home()
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "cluster.json").exists())
