"""rbac.authorization.k8s.io/v1 kinds."""
from ..schema import A, O, S
from .meta import LabelSelector, toplevel

PolicyRule = O("io.k8s.api.rbac.v1.PolicyRule", {
    "verbs": A(S()), "apiGroups": A(S()), "resources": A(S()), "resourceNames": A(S()), "nonResourceURLs": A(S())},
    required=("verbs",))
Subject = O("io.k8s.api.rbac.v1.Subject", {"kind": S(), "apiGroup": S(), "name": S(), "namespace": S()}, required=("kind", "name"))
RoleRef = O("io.k8s.api.rbac.v1.RoleRef", {"apiGroup": S(), "kind": S(), "name": S()}, required=("apiGroup", "kind", "name"))
Role = toplevel("io.k8s.api.rbac.v1.Role", "Role is a namespaced, logical grouping of PolicyRules.", rules=A(PolicyRule))
ClusterRole = toplevel("io.k8s.api.rbac.v1.ClusterRole", "ClusterRole is a cluster level, logical grouping of PolicyRules.",
                       rules=A(PolicyRule), aggregationRule=O(None, {"clusterRoleSelectors": A(LabelSelector)}))
RoleBinding = toplevel("io.k8s.api.rbac.v1.RoleBinding", "RoleBinding references a role, but does not contain it.",
                       subjects=A(Subject), roleRef=RoleRef)
ClusterRoleBinding = toplevel("io.k8s.api.rbac.v1.ClusterRoleBinding", "ClusterRoleBinding references a ClusterRole.",
                              subjects=A(Subject), roleRef=RoleRef)
