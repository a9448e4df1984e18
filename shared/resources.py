"""Pod resource requests as upstream's resource helpers compute them, shared by the scheduler
(NodeResourcesFit) and the kubelet (admission), so both count a pod the same way."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import quantity

Obj = dict[str, Any]

# Requests assumed for containers that declare none, so that scoring still spreads them
# (upstream schedutil.DefaultMilliCPURequest / DefaultMemoryRequest). Never used to filter.
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


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
