"""rbac.authorization.k8s.io/v1 RoleBindings: roleRef is immutable."""
from __future__ import annotations

from typing import Any

from ..api.models import rbac
from ..validation.field import FieldError, invalid, not_supported, required
from .strategy import Strategy


class RoleBindingStrategy(Strategy):
    group, kind, resource, singular = "rbac.authorization.k8s.io", "RoleBinding", "rolebindings", "rolebinding"
    schema = rbac.RoleBinding
    name_validator = "path"

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        ref = obj.get("roleRef") or {}
        if not ref.get("name"):
            errs.append(required("roleRef.name"))
        if ref.get("kind") not in ("Role", "ClusterRole"):
            errs.append(not_supported("roleRef.kind", ref.get("kind", ""), ["Role", "ClusterRole"]))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("roleRef") != old.get("roleRef"):
            errs.append(invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return errs
