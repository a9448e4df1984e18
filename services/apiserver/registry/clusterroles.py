"""rbac.authorization.k8s.io/v1 ClusterRoles."""
from __future__ import annotations


from ..api.models import rbac
from .strategy import Strategy


class ClusterRoleStrategy(Strategy):
    group, kind, resource, singular = "rbac.authorization.k8s.io", "ClusterRole", "clusterroles", "clusterrole"
    namespaced = False
    schema = rbac.ClusterRole
    name_validator = "path"
