"""Plugin interfaces and the per-node view (NodeInfo) they read, modelled on upstream's
framework/interface.go and framework/types.go."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from kubeling.shared import quantity
from kubeling.shared.resources import DEFAULT_MEMORY, DEFAULT_MILLI_CPU, Resources, pod_requests  # noqa: F401

Obj = dict[str, Any]

MAX_NODE_SCORE = 100


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
