"""DefaultTolerationSeconds: pods tolerate not-ready/unreachable nodes for 300s before eviction.

As upstream (plugin/pkg/admission/defaulttolerationseconds/admission.go) it handles creates and
updates of pods proper, not their subresources: an update that drops the defaults gets them back.
"""
from __future__ import annotations

from .interfaces import Attributes, MutationInterface, Operation

KEYS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


class DefaultTolerationSeconds(MutationInterface):
    operations = frozenset({Operation.CREATE, Operation.UPDATE})
    seconds = 300

    async def admit(self, a: Attributes) -> None:
        if a.strategy.resource != "pods" or a.strategy.group != "" or a.subresource or a.obj is None:
            return
        spec = a.obj.get("spec")
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
