"""ServiceAccount admission: pods run as the namespace's `default` account unless told otherwise.

Upstream also rejects pods whose account does not exist yet; kubeling's service-account
controller lives in the controller-manager, so the apiserver only defaults the name.
"""
from __future__ import annotations

from typing import Any

from ..registry.strategy import Strategy


class ServiceAccountAdmission:
    def admit(self, strategy: Strategy, obj: dict[str, Any]) -> None:
        if strategy.resource != "pods":
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
