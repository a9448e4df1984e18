"""The RBAC authorizer: Roles, ClusterRoles (with aggregationRule), RoleBindings and
ClusterRoleBindings, evaluated from the apiserver's watch caches, never from the store.

Matching is upstream's (`k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac`): a rule allows
when its verbs, apiGroups, resources (`pods/log`, `*/scale`, `*`) and resourceNames (empty = any)
all match; non-resource rules match paths exactly or by a trailing `*`. RBAC only allows: with no
matching rule it has no opinion, and the next authorizer (or the final deny) decides.
An index of bindings per subject kind is rebuilt only when one of the four caches moved.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .attributes import Attributes
from .user import SA_PREFIX, UserInfo

if TYPE_CHECKING:
    from ..registry.catalog import Registry

RBAC_GROUP = "rbac.authorization.k8s.io"
Rule = dict[str, Any]


def _has(items: Iterable[str] | None, value: str) -> bool:
    items = list(items or [])
    return "*" in items or value in items


def resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    for r in rule.get("resources") or []:
        if r == "*":
            return True
        if not subresource:
            if r == resource:
                return True
        elif r == f"{resource}/{subresource}" or r == f"*/{subresource}":
            return True
    return False


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or []:
        if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return non_resource_url_matches(rule, attrs.path)
    if not _has(rule.get("apiGroups"), attrs.api_group) or not resource_matches(rule, attrs.resource, attrs.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def subject_applies(subject: dict[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name") or ""
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return bool(ns) and user.name == f"{SA_PREFIX}{ns}:{name}"
    return False


@dataclass
class _Binding:
    namespace: str  # "" for ClusterRoleBindings
    subjects: list[dict[str, Any]]
    role_kind: str
    role_name: str
    name: str


@dataclass
class _Index:
    revs: tuple[int, ...] = ()
    cluster_bindings: list[_Binding] = field(default_factory=list)
    bindings: dict[str, list[_Binding]] = field(default_factory=dict)
    roles: dict[tuple[str, str], list[Rule]] = field(default_factory=dict)
    cluster_roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    aggregated: dict[str, list[Rule]] = field(default_factory=dict)


class RBACAuthorizer:
    """Evaluates requests against the RBAC objects in the watch caches."""

    def __init__(self, registry: Registry) -> None:
        self.stores = [registry.stores[(RBAC_GROUP, r)] for r in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")]
        self._index = _Index()

    async def start(self) -> None:
        for st in self.stores:
            await st.cache.ensure_started()

    def _current(self) -> _Index:
        revs = tuple(st.cache.rev for st in self.stores)
        if revs == self._index.revs:
            return self._index
        roles, cluster_roles, rbs, crbs = (list(st.cache.objects.values()) for st in self.stores)
        idx = _Index(revs)
        for r in roles:
            md = r.get("metadata") or {}
            idx.roles[(md.get("namespace", ""), md.get("name", ""))] = list(r.get("rules") or [])
        for cr in cluster_roles:
            idx.cluster_roles[(cr.get("metadata") or {}).get("name", "")] = cr
        for b in rbs:
            md, ref = b.get("metadata") or {}, b.get("roleRef") or {}
            idx.bindings.setdefault(md.get("namespace", ""), []).append(
                _Binding(md.get("namespace", ""), list(b.get("subjects") or []), ref.get("kind", ""), ref.get("name", ""), md.get("name", "")))
        for b in crbs:
            md, ref = b.get("metadata") or {}, b.get("roleRef") or {}
            idx.cluster_bindings.append(_Binding("", list(b.get("subjects") or []), "ClusterRole", ref.get("name", ""), md.get("name", "")))
        self._index = idx
        return idx

    def cluster_role_rules(self, idx: _Index, name: str, visiting: frozenset[str] = frozenset()) -> list[Rule]:
        """A ClusterRole's rules, plus those of the roles its aggregationRule selects, recursively (as
        upstream's aggregation controller fills them in; evaluated here so they apply at once)."""
        if name in idx.aggregated:
            return idx.aggregated[name]
        cr = idx.cluster_roles.get(name)
        if cr is None:
            return []
        rules = list(cr.get("rules") or [])
        agg = (cr.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if agg:
            from ..registry.selectors import selector_from_object
            selectors = [selector_from_object(s) for s in agg]
            for other_name, other in idx.cluster_roles.items():
                if other_name == name or other_name in visiting:
                    continue
                labels = (other.get("metadata") or {}).get("labels") or {}
                if any(sel.matches(labels) for sel in selectors):
                    for r in self.cluster_role_rules(idx, other_name, visiting | {name}):
                        if r not in rules:
                            rules.append(r)
        idx.aggregated[name] = rules
        return rules

    def _role_rules(self, idx: _Index, b: _Binding) -> list[Rule]:
        if b.role_kind == "Role":
            return idx.roles.get((b.namespace, b.role_name), [])
        return self.cluster_role_rules(idx, b.role_name)

    def applicable_rules(self, user: UserInfo, namespace: str) -> list[Rule]:
        """Every rule granted to `user` cluster-wide and in `namespace` (SelfSubjectRulesReview)."""
        idx = self._current()
        out: list[Rule] = []
        for b in idx.cluster_bindings:
            if any(subject_applies(s, user, "") for s in b.subjects):
                out.extend(self._role_rules(idx, b))
        for b in idx.bindings.get(namespace, []) if namespace else []:
            if any(subject_applies(s, user, b.namespace) for s in b.subjects):
                out.extend(self._role_rules(idx, b))
        return out

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        """("allow", reason) when a binding grants the request, ("", "") for no opinion."""
        idx = self._current()
        for b in idx.cluster_bindings:
            if any(subject_applies(s, attrs.user, "") for s in b.subjects):
                if any(rule_allows(attrs, r) for r in self._role_rules(idx, b)):
                    return "allow", f'RBAC: allowed by ClusterRoleBinding "{b.name}" of ClusterRole "{b.role_name}"'
        if attrs.namespace:
            for b in idx.bindings.get(attrs.namespace, []):
                if any(subject_applies(s, attrs.user, b.namespace) for s in b.subjects):
                    if any(rule_allows(attrs, r) for r in self._role_rules(idx, b)):
                        return "allow", f'RBAC: allowed by RoleBinding "{b.name}/{b.namespace}" of {b.role_kind} "{b.role_name}"'
        return "", ""
