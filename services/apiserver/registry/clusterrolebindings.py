"""rbac.authorization.k8s.io/v1 ClusterRoleBindings."""
from __future__ import annotations

from typing import Any

from ..api.models import rbac
from ..validation.field import FieldError, not_supported, required
from .strategy import Strategy
from .rolebindings import RoleBindingStrategy


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    kind, resource, singular = "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding"
    namespaced = False
    schema = rbac.ClusterRoleBinding

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = Strategy.validate(self, obj)
        ref = obj.get("roleRef") or {}
        if not ref.get("name"):
            errs.append(required("roleRef.name"))
        if ref.get("kind") != "ClusterRole":
            errs.append(not_supported("roleRef.kind", ref.get("kind", ""), ["ClusterRole"]))
        return errs
