"""The bootstrap RBAC policy kube-apiserver reconciles at startup (`bootstrappolicy`), for the
components kubeling runs.

Roles carry the `rbac.authorization.kubernetes.io/autoupdate: "true"` annotation as upstream's:
on each start missing roles and bindings are created and changed ones are put back, unless a
user set the annotation to "false". system:kube-controller-manager is broader than upstream's
because kubeling runs every controller under one identity (upstream splits them into per-controller
service accounts with --use-service-account-credentials); its rights are the union of those
controllers' roles (the garbage collector and namespace controller need get/list/watch/delete on
every resource, as upstream's do).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..api import errors
from .node import NODE_RULES

if TYPE_CHECKING:
    from ..registry.catalog import Registry

log = logging.getLogger("apiserver.rbac")

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
GROUP = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        r["resourceNames"] = names
    return r


def url_rule(urls: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"nonResourceURLs": urls, "verbs": verbs}


VIEW = [
    rule([""], ["pods", "pods/log", "pods/status", "replicationcontrollers", "replicationcontrollers/scale",
                "replicationcontrollers/status", "services", "services/status", "endpoints", "persistentvolumeclaims",
                "persistentvolumeclaims/status", "configmaps", "serviceaccounts", "limitranges", "resourcequotas",
                "resourcequotas/status", "events", "namespaces", "namespaces/status", "bindings"], READ),
    rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                    "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                    "statefulsets/scale", "statefulsets/status"], READ),
    rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
    rule(["discovery.k8s.io"], ["endpointslices"], READ),
    rule(["coordination.k8s.io"], ["leases"], READ),
]
EDIT = [
    rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    rule([""], ["pods/eviction", "serviceaccounts/token"], ["create"]),
    rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale",
                "secrets", "serviceaccounts", "services", "services/proxy", "endpoints"], WRITE),
    rule([""], ["secrets"], READ),
    rule([""], ["serviceaccounts"], ["impersonate"]),
    rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                    "replicasets/scale", "statefulsets", "statefulsets/scale"], WRITE),
    rule(["batch"], ["cronjobs", "jobs"], WRITE),
    rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    rule(["policy"], ["poddisruptionbudgets"], WRITE),
    rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    rule(["discovery.k8s.io"], ["endpointslices"], WRITE),
    rule(["coordination.k8s.io"], ["leases"], WRITE),
]
ADMIN = [
    rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    rule([GROUP], ["rolebindings", "roles"], [*WRITE, "get", "list", "watch"]),
]
SCHEDULER = [
    rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
    rule(["coordination.k8s.io"], ["leases"], ["create"]),
    rule(["coordination.k8s.io"], ["leases"], ["get", "update"], ["kube-scheduler"]),
    rule([""], ["endpoints"], ["create"]),
    rule([""], ["endpoints"], ["get", "update"], ["kube-scheduler"]),
    rule([""], ["nodes"], READ),
    rule([""], ["pods"], ["delete", "get", "list", "watch"]),
    rule([""], ["bindings", "pods/binding"], ["create"]),
    rule([""], ["pods/status"], ["patch", "update"]),
    rule([""], ["replicationcontrollers", "services", "namespaces", "persistentvolumeclaims", "persistentvolumes"], ["list", "watch"]),
    rule(["apps"], ["replicasets", "statefulsets"], ["list", "watch"]),
    rule(["policy"], ["poddisruptionbudgets"], ["list", "watch"]),
    rule(["storage.k8s.io"], ["csinodes", "csidrivers", "csistoragecapacities", "storageclasses"], ["list", "watch"]),
    rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
]
CONTROLLER_MANAGER = [
    # garbage collector + namespace controller (upstream: generic-garbage-collector, namespace-controller)
    rule(["*"], ["*"], [*READ, "delete", "deletecollection", "patch", "update"]),
    rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
    rule([""], ["pods", "pods/eviction", "pods/binding", "endpoints", "serviceaccounts", "serviceaccounts/token", "secrets",
                "configmaps", "replicationcontrollers", "services", "nodes", "namespaces", "resourcequotas",
                "persistentvolumeclaims"], ["create"]),
    rule(["apps"], ["replicasets", "controllerrevisions", "deployments", "statefulsets", "daemonsets"], ["create"]),
    rule(["batch"], ["jobs", "cronjobs"], ["create"]),
    rule(["discovery.k8s.io"], ["endpointslices"], ["create"]),
    rule(["coordination.k8s.io"], ["leases"], ["create"]),
    rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
]
NODE_PROXIER = [
    rule([""], ["endpoints", "services"], ["list", "watch"]),
    rule([""], ["nodes"], READ),
    rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
    rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
]

# name -> (rules, aggregate-to label or aggregationRule labels)
CLUSTER_ROLES: dict[str, dict[str, Any]] = {
    "cluster-admin": {"rules": [rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])]},
    "system:discovery": {"rules": [url_rule(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                             "/openapi/*", "/readyz", "/version", "/version/"], ["get"])]},
    "system:public-info-viewer": {"rules": [url_rule(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])]},
    "system:basic-user": {"rules": [rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
                                    rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]},
    "system:monitoring": {"rules": [url_rule(["/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/metrics"], ["get"])]},
    "system:auth-delegator": {"rules": [rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
                                        rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"])]},
    "system:service-account-issuer-discovery": {"rules": [url_rule(["/.well-known/openid-configuration",
                                                                    "/.well-known/openid-configuration/",
                                                                    "/openid/v1/jwks", "/openid/v1/jwks/"], ["get"])]},
    "system:kube-scheduler": {"rules": SCHEDULER},
    "system:kube-controller-manager": {"rules": CONTROLLER_MANAGER},
    "system:node": {"rules": NODE_RULES},
    "system:node-proxier": {"rules": NODE_PROXIER},
    "system:aggregate-to-view": {"rules": VIEW, "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
    "system:aggregate-to-edit": {"rules": EDIT, "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
    "system:aggregate-to-admin": {"rules": ADMIN, "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}},
    "view": {"aggregate": ["view"], "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
    "edit": {"aggregate": ["edit"], "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}},
    "admin": {"aggregate": ["admin"]},
}


def _subject(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": GROUP, "kind": kind, "name": name}


CLUSTER_ROLE_BINDINGS: dict[str, list[dict[str, str]]] = {
    "cluster-admin": [_subject("Group", "system:masters")],
    "system:discovery": [_subject("Group", "system:authenticated")],
    "system:basic-user": [_subject("Group", "system:authenticated")],
    "system:public-info-viewer": [_subject("Group", "system:authenticated"), _subject("Group", "system:unauthenticated")],
    "system:monitoring": [_subject("Group", "system:monitoring")],
    "system:service-account-issuer-discovery": [_subject("Group", "system:serviceaccounts")],
    "system:kube-scheduler": [_subject("User", "system:kube-scheduler")],
    "system:kube-controller-manager": [_subject("User", "system:kube-controller-manager")],
    "system:node": [],  # upstream: nodes are authorized by the Node authorizer, not by this binding
    "system:node-proxier": [_subject("User", "system:kube-proxy")],
}


def cluster_role(name: str) -> dict[str, Any]:
    spec = CLUSTER_ROLES[name]
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults", **spec.get("labels", {})}
    obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole",
                           "metadata": {"name": name, "labels": labels, "annotations": {AUTOUPDATE: "true"}}}
    if "aggregate" in spec:
        obj["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{a}": "true"}} for a in spec["aggregate"]]}
        obj["rules"] = []
    else:
        obj["rules"] = spec["rules"]
    return obj


def cluster_role_binding(name: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRoleBinding",
                           "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                                        "annotations": {AUTOUPDATE: "true"}},
                           "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": name}}
    if CLUSTER_ROLE_BINDINGS[name]:
        obj["subjects"] = CLUSTER_ROLE_BINDINGS[name]
    return obj


async def _reconcile(store: Any, desired: dict[str, Any], fields: tuple[str, ...]) -> None:
    name = desired["metadata"]["name"]
    try:
        await store.create(None, desired)
        return
    except errors.StatusError as e:
        if e.code != 409:
            raise

    def put_back(cur: dict[str, Any]) -> dict[str, Any]:
        if ((cur.get("metadata") or {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
            return cur
        for f in fields:
            if desired.get(f) is None:
                cur.pop(f, None)
            else:
                cur[f] = desired[f]
        return cur
    try:
        await store.update(None, name, put_back)
    except errors.StatusError as e:
        if e.code not in (404, 409):
            raise


async def ensure(registry: Registry) -> None:
    """Create or put back the bootstrap cluster roles and bindings (several apiservers may race: fine)."""
    roles = registry.stores[(GROUP, "clusterroles")]
    bindings = registry.stores[(GROUP, "clusterrolebindings")]
    for name in CLUSTER_ROLES:
        await _reconcile(roles, cluster_role(name), ("rules", "aggregationRule"))
    for name in CLUSTER_ROLE_BINDINGS:
        await _reconcile(bindings, cluster_role_binding(name), ("subjects", "roleRef"))
    log.info("bootstrap RBAC policy reconciled", extra={"clusterroles": len(CLUSTER_ROLES), "clusterrolebindings": len(CLUSTER_ROLE_BINDINGS)})
