"""DefaultTolerationSeconds: pods tolerate not-ready/unreachable nodes for 300s before eviction."""
from __future__ import annotations

from typing import Any

from ..registry.strategy import Strategy

KEYS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


class DefaultTolerationSeconds:
    seconds = 300

    def admit(self, strategy: Strategy, obj: dict[str, Any]) -> None:
        if strategy.resource != "pods":
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        tols = spec.get("tolerations")
        if not isinstance(tols, list):
            tols = []
        for key in KEYS:
            if any(t.get("key") == key and t.get("effect") in ("NoExecute", None, "") for t in tols) or \
                    any(not t.get("key") and t.get("operator") == "Exists" for t in tols):
                continue
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": self.seconds})
        spec["tolerations"] = tols
