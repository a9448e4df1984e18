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
    SKIP = 4  # from PreFilter/PreScore: this plugin has nothing to say about this pod


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
SKIP = Status(Code.SKIP)


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


def controller_ref(pod: Obj) -> tuple[str, str] | None:
    """(namespace, uid) of the pod's controller, the key default spreading groups pods by."""
    md = pod.get("metadata") or {}
    for ref in md.get("ownerReferences") or []:
        if ref.get("controller"):
            return (md.get("namespace") or "", ref.get("uid") or "")
    return None


def _has_required_anti_affinity(pod: Obj) -> bool:
    anti = ((pod.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity") or {}
    return bool(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))


class PodInfo:
    """What the cache needs of an assigned pod, computed once when it is added (upstream's
    framework.PodInfo), so removing or re-adding it never parses its quantities again."""

    __slots__ = ("pod", "requests", "non_zero", "ports", "controller", "required_anti_affinity")

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.requests = pod_requests(pod)
        self.non_zero = pod_requests(pod, non_zero=True)
        self.ports = host_ports(pod)
        self.controller = controller_ref(pod)
        self.required_anti_affinity = _has_required_anti_affinity(pod)

    def same_accounting(self, pod: Obj) -> bool:
        """Would `pod` count exactly as this one does? (Status-only updates from the kubelet do.)"""
        old = self.pod
        return (old.get("spec") == pod.get("spec")
                and (old.get("metadata") or {}).get("ownerReferences") == (pod.get("metadata") or {}).get("ownerReferences"))


class NodeInfo:
    """A node and the pods assigned (or assumed) to it, with running totals.

    Everything a filter or score asks of a node per scheduling cycle is precomputed here when the
    node or its pods change, not when a pod is scheduled: requested resources, host ports, labels,
    taints by effect, pods per controller (default spreading) and pods with required
    anti-affinity (InterPodAffinity). `generation` grows on every change, as upstream's
    NodeInfo.Generation, so a snapshot can tell which nodes changed.
    """

    _next_generation = 0

    def __init__(self, node: Obj) -> None:
        self.node = node
        self.pods: dict[str, Obj] = {}
        self.pod_infos: dict[str, PodInfo] = {}
        self.requested = Resources()
        self.non_zero_requested = Resources()
        self.used_ports: list[tuple[str, str, int]] = []
        self.controller_counts: dict[tuple[str, str], int] = {}
        self.pods_with_required_anti_affinity: dict[str, Obj] = {}
        self._alloc_src: Any = object()
        self.generation = 0
        self.set_node(node)

    def _bump(self) -> None:
        NodeInfo._next_generation += 1
        self.generation = NodeInfo._next_generation

    def set_node(self, node: Obj) -> None:
        self.node = node
        md, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        self.name = md.get("name", "")
        self.labels: dict[str, str] = md.get("labels") or {}
        self.unschedulable = bool(spec.get("unschedulable"))
        taints = spec.get("taints") or []
        self.taints: list[dict[str, Any]] = taints
        self.hard_taints = [t for t in taints if t.get("effect") in ("NoSchedule", "NoExecute")]
        self.prefer_no_schedule_taints = [t for t in taints if t.get("effect") == "PreferNoSchedule"]
        src = status.get("allocatable") or status.get("capacity")
        if src != self._alloc_src:  # heartbeats repeat the same amounts: parse them only when they change
            self._alloc_src = src
            self.allocatable = Resources.from_list(src)
            pods = (src or {}).get("pods")
            self.allowed_pods = quantity.value(pods) if pods is not None else 110
        self._bump()

    def add_pod(self, pod: Obj) -> None:
        k = pod_key(pod)
        old = self.pod_infos.get(k)
        if old is not None:
            if old.same_accounting(pod):
                old.pod = self.pods[k] = pod  # only the object changes (status, labels)
                if old.required_anti_affinity:
                    self.pods_with_required_anti_affinity[k] = pod
                self._bump()
                return
            self.remove_pod(old.pod)
        pi = PodInfo(pod)
        self.pods[k] = pod
        self.pod_infos[k] = pi
        self.requested.add(pi.requests)
        self.non_zero_requested.add(pi.non_zero)
        self.used_ports.extend(pi.ports)
        if pi.controller is not None:
            self.controller_counts[pi.controller] = self.controller_counts.get(pi.controller, 0) + 1
        if pi.required_anti_affinity:
            self.pods_with_required_anti_affinity[k] = pod
        self._bump()

    def remove_pod(self, pod: Obj) -> None:
        k = pod_key(pod)
        pi = self.pod_infos.pop(k, None)
        self.pods.pop(k, None)
        if pi is None:
            return
        self.requested.sub(pi.requests)
        self.non_zero_requested.sub(pi.non_zero)
        for hp in pi.ports:
            if hp in self.used_ports:
                self.used_ports.remove(hp)
        if pi.controller is not None:
            n = self.controller_counts.get(pi.controller, 0) - 1
            if n > 0:
                self.controller_counts[pi.controller] = n
            else:
                self.controller_counts.pop(pi.controller, None)
        self.pods_with_required_anti_affinity.pop(k, None)
        self._bump()


class CycleState(dict):
    """Per-attempt scratch space shared by a plugin's PreFilter/Filter and PreScore/Score calls."""


def cycle_requests(state: CycleState, pod: Obj) -> tuple[Resources, Resources]:
    """The pod's (requests, non-zero requests), computed once per attempt and shared by
    NodeResourcesFit and BalancedAllocation instead of once per node."""
    r = state.get("_requests")
    if r is None:
        r = state["_requests"] = (pod_requests(pod), pod_requests(pod, non_zero=True))
    return r


class PreFilterPlugin(Protocol):
    """Runs once per attempt before Filter; returns SKIP when its Filter cannot reject any node
    for this pod (upstream's PreFilterResult Skip), so the Filter is not called per node."""
    name: str

    def pre_filter(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None: ...


class PreScorePlugin(Protocol):
    """Runs once per attempt over the feasible nodes before Score; SKIP leaves the plugin out."""
    name: str

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status | None: ...


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
