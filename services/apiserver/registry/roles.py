"""rbac.authorization.k8s.io/v1 Roles."""
from __future__ import annotations


from ..api.models import rbac
from .strategy import Strategy


class RoleStrategy(Strategy):
    group, kind, resource, singular = "rbac.authorization.k8s.io", "Role", "roles", "role"
    schema = rbac.Role
    name_validator = "path"
