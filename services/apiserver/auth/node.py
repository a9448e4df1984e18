"""The Node authorizer: what a node agent (`system:node:<name>` in group system:nodes) may do.

Upstream builds a graph of pods -> secrets/configmaps/PVCs/service accounts; kubeling answers
the same questions from the pods watch cache when they are asked (they are rare):
- secrets, configmaps, PVCs, PVs: `get` only, and only those a pod bound to the node uses;
- serviceaccounts/token: `create` only for an account a pod bound to the node runs as;
- Leases in kube-node-lease: only the node's own;
- Nodes: anyone's may be read, only its own changed;
- everything else the kubelet and kube-proxy need comes from upstream's NodeRules (below).
NodeRestriction admission then narrows writes to pods bound to the node (see
admission/noderestriction.py). Requests from other users get no opinion here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .attributes import Attributes
from .rbac import rule_allows
from .user import node_name

if TYPE_CHECKING:
    from ..registry.catalog import Registry

NODE_LEASE_NAMESPACE = "kube-node-lease"
_READ = ["get", "list", "watch"]

# upstream's bootstrappolicy.NodeRules(), plus kube-proxy's system:node-proxier (the node agent runs both)
NODE_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews", "localsubjectaccessreviews"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": _READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["create", "get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch", "update"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch", "update"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["create", "get", "list", "watch"]},
    {"apiGroups": ["node.k8s.io"], "resources": ["runtimeclasses"], "verbs": _READ},
]

_GRAPH_RESOURCES = {"secrets": "secret", "configmaps": "configMap", "persistentvolumeclaims": "persistentVolumeClaim"}


def _pod_refs(pod: dict[str, Any], resource: str) -> set[str]:
    """Names of objects of `resource` a pod spec uses (volumes, env, envFrom, image pull secrets)."""
    spec = pod.get("spec") or {}
    out: set[str] = set()
    if resource == "serviceaccounts":
        return {spec.get("serviceAccountName") or "default"}
    for v in spec.get("volumes") or []:
        if resource == "secrets" and (v.get("secret") or {}).get("secretName"):
            out.add(v["secret"]["secretName"])
        if resource == "configmaps" and (v.get("configMap") or {}).get("name"):
            out.add(v["configMap"]["name"])
        if resource == "persistentvolumeclaims" and (v.get("persistentVolumeClaim") or {}).get("claimName"):
            out.add(v["persistentVolumeClaim"]["claimName"])
        for src in (v.get("projected") or {}).get("sources") or []:
            if resource == "secrets" and (src.get("secret") or {}).get("name"):
                out.add(src["secret"]["name"])
            if resource == "configmaps" and (src.get("configMap") or {}).get("name"):
                out.add(src["configMap"]["name"])
    if resource == "secrets":
        out |= {s.get("name") for s in spec.get("imagePullSecrets") or [] if s.get("name")}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or []), *(spec.get("ephemeralContainers") or [])]:
        for e in c.get("env") or []:
            ref = ((e.get("valueFrom") or {}).get("secretKeyRef" if resource == "secrets" else "configMapKeyRef") or {})
            if ref.get("name") and resource in ("secrets", "configmaps"):
                out.add(ref["name"])
        for ef in c.get("envFrom") or []:
            ref = ef.get("secretRef" if resource == "secrets" else "configMapRef") or {}
            if ref.get("name") and resource in ("secrets", "configmaps"):
                out.add(ref["name"])
    return out


class NodeAuthorizer:
    def __init__(self, registry: Registry) -> None:
        self.pods = registry.stores[("", "pods")]

    async def start(self) -> None:
        await self.pods.cache.ensure_started()

    def _related(self, node: str, resource: str, namespace: str, name: str) -> bool:
        """Whether a pod bound to `node` in `namespace` uses object `name` of `resource`."""
        prefix = f"{self.pods.prefix}{namespace}/"
        for key, pod in list(self.pods.cache.objects.items()):
            if key.startswith(prefix) and (pod.get("spec") or {}).get("nodeName") == node and name in _pod_refs(pod, resource):
                return True
        return False

    def authorize(self, attrs: Attributes) -> tuple[str, str]:
        """("allow", reason) or ("", reason): like upstream, an unrelated object is "no opinion" with a reason."""
        node = node_name(attrs.user)
        if node is None:
            return "", ""
        if not attrs.resource_request:
            return "", ""
        res, group = attrs.resource, attrs.api_group
        if group == "" and (res in _GRAPH_RESOURCES or res == "persistentvolumes") and not attrs.subresource:
            if attrs.verb != "get" or not attrs.name:
                return "", "can only get individual resources of this type"
            if res == "persistentvolumes" or self._related(node, res, attrs.namespace, attrs.name):
                return "allow", ""
            return "", f"no relationship found between node '{node}' and this object"
        if group == "" and res == "serviceaccounts" and attrs.subresource == "token":
            if attrs.verb == "create" and self._related(node, "serviceaccounts", attrs.namespace, attrs.name):
                return "allow", ""
            return "", f"no relationship found between node '{node}' and this object"
        if group == "coordination.k8s.io" and res == "leases":
            if attrs.namespace == NODE_LEASE_NAMESPACE and attrs.verb in ("get", "create", "update", "patch", "delete") \
                    and (attrs.name == node or (attrs.verb == "create" and not attrs.name)):
                return "allow", ""
            return "", "can only access node lease with the same name as the requesting node"
        if group == "" and res == "nodes" and attrs.verb in ("update", "patch", "delete") and attrs.name and attrs.name != node:
            return "", f"node '{node}' cannot modify node '{attrs.name}'"
        if any(rule_allows(attrs, r) for r in NODE_RULES):
            return "allow", ""
        return "", ""
