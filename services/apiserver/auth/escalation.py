"""RBAC privilege-escalation prevention, as upstream's rbac registry does it.

Whoever may write Roles or RoleBindings could otherwise grant themselves anything. So, as in
kube-apiserver, a Role or ClusterRole may be created or changed only by someone who already holds
every permission it grants (or has the `escalate` verb on it), and a RoleBinding or
ClusterRoleBinding only by someone who holds every permission of the role it references (or has
the `bind` verb on that role). Denials are 403s with upstream's wording.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..api import errors
from . import context
from .attributes import Attributes
from .policy import GROUP
from .user import UserInfo

if TYPE_CHECKING:
    from ..registry.store import Store
    from .authz import Authorizer

_ROLE_KINDS = {"roles": "Role", "clusterroles": "ClusterRole"}
_BINDINGS = ("rolebindings", "clusterrolebindings")


def _covered(authz: Authorizer, user: UserInfo, namespace: str, rule: dict[str, Any]) -> bool:
    """Whether `user` already holds every permission of `rule` (wildcards only by wildcards)."""
    def allowed(a: Attributes) -> bool:
        return authz.authorize(a)[0]
    verbs = rule.get("verbs") or []
    if rule.get("nonResourceURLs"):
        return all(allowed(Attributes(user, v, False, path=u)) for v in verbs for u in rule["nonResourceURLs"])
    names = rule.get("resourceNames") or [""]
    for v in verbs:
        for g in rule.get("apiGroups") or [""]:
            for r in rule.get("resources") or []:
                res, _, sub = r.partition("/")
                for n in names:
                    if not allowed(Attributes(user, v, True, namespace=namespace, api_group=g, resource=res, subresource=sub, name=n)):
                        return False
    return True


def _describe(rule: dict[str, Any]) -> str:
    """upstream's PolicyRule.CompactString: {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}."""
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"), ("resourceNames", "ResourceNames"),
                       ("nonResourceURLs", "NonResourceURLs"), ("verbs", "Verbs")):
        if rule.get(key):
            parts.append(f"{label}:{json.dumps(list(rule[key]), separators=(', ', ':'))}")
    return "{" + ", ".join(parts) + "}"


def _deny(store: Store, name: str, user: UserInfo, missing: list[dict[str, Any]]) -> errors.StatusError:
    groups = json.dumps(list(user.groups), separators=(" ", ":"))
    why = (f'user "{user.name}" (groups={groups}) is attempting to grant RBAC permissions not currently held:\n'
           + "\n".join(_describe(r) for r in missing))
    return errors.forbidden(store.strategy.resource, name, why, GROUP)


def check(authz: Authorizer, store: Store, obj: dict[str, Any] | None) -> None:
    """Refuse a write of a role or binding that would grant its author more than they hold."""
    s = store.strategy
    attrs = context.current.get()
    if s.group != GROUP or obj is None or attrs is None or authz.rbac is None or authz.always_allow:
        return
    user = attrs.user
    md = obj.get("metadata") or {}
    namespace, name = md.get("namespace") or "", md.get("name") or attrs.name
    if s.resource in _ROLE_KINDS:
        escalate = Attributes(user, "escalate", True, namespace=namespace, api_group=GROUP, resource=s.resource, name=name)
        if authz.authorize(escalate)[0]:
            return
        rules = list(obj.get("rules") or [])
        if obj.get("aggregationRule"):  # aggregated rules are granted too: resolve them as the authorizer would
            idx = authz.rbac._current()
            selectors = obj["aggregationRule"].get("clusterRoleSelectors") or []
            from ..registry.selectors import selector_from_object
            sels = [selector_from_object(x) for x in selectors]
            for other, cr in idx.cluster_roles.items():
                if other != name and any(sel.matches((cr.get("metadata") or {}).get("labels") or {}) for sel in sels):
                    rules += authz.rbac.cluster_role_rules(idx, other)
        missing = [r for r in rules if not _covered(authz, user, namespace, r)]
        if missing:
            raise _deny(store, name, user, missing)
        return
    if s.resource in _BINDINGS:
        ref = obj.get("roleRef") or {}
        role_resource = "roles" if ref.get("kind") == "Role" else "clusterroles"
        bind = Attributes(user, "bind", True, namespace=namespace if role_resource == "roles" or namespace else "",
                          api_group=GROUP, resource=role_resource, name=ref.get("name") or "")
        if authz.authorize(bind)[0]:
            return
        idx = authz.rbac._current()
        if role_resource == "roles":
            rules = idx.roles.get((namespace, ref.get("name") or ""), [])
        else:
            rules = authz.rbac.cluster_role_rules(idx, ref.get("name") or "")
        missing = [r for r in rules if not _covered(authz, user, namespace, r)]
        if missing:
            raise _deny(store, name, user, missing)
