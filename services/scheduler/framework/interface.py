"""Plugin interfaces and the per-node view (NodeInfo) they read, modelled on upstream's
framework/interface.go and framework/types.go."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from kubeling.shared import quantity

Obj = dict[str, Any]

MAX_NODE_SCORE = 100
# Requests assumed for containers that declare none, so that scoring still spreads them
# (upstream schedutil.DefaultMilliCPURequest / DefaultMemoryRequest). Never used by Filter.
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


class Code(Enum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3


@dataclass
class Status:
    code: Code = Code.SUCCESS
    reasons: list[str] = field(default_factory=list)
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    @classmethod
    def unschedulable(cls, *reasons: str, unresolvable: bool = False) -> "Status":
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE, list(reasons))


SUCCESS = Status()


@dataclass
class Resources:
    """Requested or allocatable amounts: CPU in millicores, memory in bytes, other resources by name."""
    milli_cpu: int = 0
    memory: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    def add(self, other: "Resources") -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) + v

    def sub(self, other: "Resources") -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) - v

    @classmethod
    def from_list(cls, rl: dict[str, Any] | None) -> "Resources":
        r = cls()
        for k, v in (rl or {}).items():
            if k == "cpu":
                r.milli_cpu = quantity.milli_value(v)
            elif k == "memory":
                r.memory = quantity.value(v)
            elif k != "pods":
                r.scalar[k] = quantity.value(v)
        return r


def _max(a: Resources, b: Resources) -> Resources:
    out = Resources(max(a.milli_cpu, b.milli_cpu), max(a.memory, b.memory), dict(a.scalar))
    for k, v in b.scalar.items():
        out.scalar[k] = max(out.scalar.get(k, 0), v)
    return out


def pod_requests(pod: Obj, non_zero: bool = False) -> Resources:
    """What a pod asks for: max(sum of containers (+ sidecars), each init container) + overhead,
    as upstream's resource helpers compute it. `non_zero` substitutes scoring defaults."""
    spec = pod.get("spec") or {}
    total = Resources()
    for c in spec.get("containers") or []:
        req = Resources.from_list((c.get("resources") or {}).get("requests"))
        if non_zero:
            req.milli_cpu = req.milli_cpu or DEFAULT_MILLI_CPU
            req.memory = req.memory or DEFAULT_MEMORY
        total.add(req)
    sidecars = Resources()
    init_peak = Resources()
    for c in spec.get("initContainers") or []:
        req = Resources.from_list((c.get("resources") or {}).get("requests"))
        if c.get("restartPolicy") == "Always":  # a sidecar keeps running next to the app containers
            sidecars.add(req)
        else:  # a regular init container runs beside the sidecars started before it
            init_peak = _max(init_peak, Resources(req.milli_cpu + sidecars.milli_cpu, req.memory + sidecars.memory,
                                                  dict(req.scalar)))
    total.add(sidecars)
    total = _max(total, init_peak)
    total.add(Resources.from_list(spec.get("overhead")))
    return total


def pod_key(pod: Obj) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


def host_ports(pod: Obj) -> list[tuple[str, str, int]]:
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"])))
    return out


class NodeInfo:
    """A node and the pods assigned (or assumed) to it, with running totals."""

    def __init__(self, node: Obj) -> None:
        self.node = node
        self.pods: dict[str, Obj] = {}
        self.requested = Resources()
        self.non_zero_requested = Resources()
        self.used_ports: list[tuple[str, str, int]] = []
        self.set_node(node)

    def set_node(self, node: Obj) -> None:
        self.node = node
        status = node.get("status") or {}
        self.allocatable = Resources.from_list(status.get("allocatable") or status.get("capacity"))
        pods = (status.get("allocatable") or status.get("capacity") or {}).get("pods")
        self.allowed_pods = quantity.value(pods) if pods is not None else 110

    @property
    def name(self) -> str:
        return self.node["metadata"]["name"]

    def add_pod(self, pod: Obj) -> None:
        k = pod_key(pod)
        if k in self.pods:
            self.remove_pod(self.pods[k])
        self.pods[k] = pod
        self.requested.add(pod_requests(pod))
        self.non_zero_requested.add(pod_requests(pod, non_zero=True))
        self.used_ports.extend(host_ports(pod))

    def remove_pod(self, pod: Obj) -> None:
        k = pod_key(pod)
        old = self.pods.pop(k, None)
        if old is None:
            return
        self.requested.sub(pod_requests(old))
        self.non_zero_requested.sub(pod_requests(old, non_zero=True))
        for hp in host_ports(old):
            if hp in self.used_ports:
                self.used_ports.remove(hp)


class CycleState(dict):
    """Per-attempt scratch space shared by a plugin's PreScore/Score calls."""


class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status: ...


class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int: ...

    def normalize(self, state: CycleState, pod: Obj, scores: dict[str, int]) -> None: ...


def default_normalize(scores: dict[str, int], reverse: bool = False) -> None:
    """Scale to [0, MAX_NODE_SCORE] by the highest score (helper.DefaultNormalizeScore)."""
    top = max(scores.values(), default=0)
    if top == 0:
        if reverse:
            for k in scores:
                scores[k] = MAX_NODE_SCORE
        return
    for k, v in scores.items():
        s = MAX_NODE_SCORE * v // top
        scores[k] = MAX_NODE_SCORE - s if reverse else s
