"""NodeRestriction admission: a node agent writes only what belongs to its own node.

The Node authorizer lets `system:node:<name>` users create, update and delete pods and nodes in
general; this plugin (upstream's plugin/pkg/admission/noderestriction) then checks the objects:
- pods: create only mirror pods bound to itself; update only the status of pods bound to itself;
  delete (and evict) only pods bound to itself;
- nodes: create and change only its own Node object, never its taints after creation, and only
  the labels a kubelet may set (not `node-restriction.kubernetes.io/*` nor other kubernetes.io labels).
Requests from any other user pass untouched. Errors are upstream's 403 wording, e.g.
`pods "web-1" is forbidden: node "node-1" can only update pod status for pods with spec.nodeName set to itself`.
Upstream's plugin is a mutating one (it `Admit`s), placed after ServiceAccount in the chain.
An eviction reaches kubeling's registry as the DELETE of the pod, so it is checked as one.
"""
from __future__ import annotations

from typing import Any

from ..api import errors
from ..auth.user import node_name
from .interfaces import Attributes, MutationInterface, Operation

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _node_of(pod: dict[str, Any] | None) -> str:
    return ((pod or {}).get("spec") or {}).get("nodeName") or ""


class NodeRestriction(MutationInterface):
    operations = frozenset({Operation.CREATE, Operation.UPDATE, Operation.DELETE})

    async def admit(self, a: Attributes) -> None:
        node = node_name(a.user) if a.user is not None else None
        if node is None:
            return
        resource = a.strategy.resource
        if a.strategy.group != "" or resource not in ("pods", "nodes"):
            return
        op, obj, old = a.operation.value, a.obj, a.old
        name = a.name

        def deny(why: str) -> errors.StatusError:
            return errors.forbidden(resource, name, why)

        if resource == "pods":
            if a.subresource == "status":
                if _node_of(old) != node:
                    raise deny(f'node "{node}" can only update pod status for pods with spec.nodeName set to itself')
                return
            if op == "CREATE" and a.subresource == "":
                if MIRROR_ANNOTATION not in (((obj or {}).get("metadata") or {}).get("annotations") or {}):
                    raise deny(f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" can only create mirror pods')
                if _node_of(obj) != node:
                    raise deny(f'node "{node}" can only create pods with spec.nodeName set to itself')
                return
            if op == "DELETE":
                if _node_of(old) != node:
                    raise deny(f'node "{node}" can only delete pods with spec.nodeName set to itself')
                return
            raise deny(f'unexpected operation "{op}", node "{node}" can only create and delete mirror pods')
        # nodes
        if name and name != node:
            raise deny(f'node "{node}" is not allowed to modify node "{name}"')
        if obj is None:
            return
        labels = ((obj.get("metadata") or {}).get("labels") or {})
        old_labels = (((old or {}).get("metadata") or {}).get("labels") or {})
        changed = sorted(k for k in set(labels) | set(old_labels) if labels.get(k) != old_labels.get(k))
        forbidden = [k for k in changed if not _node_may_set_label(k)]
        if forbidden:
            raise deny(f'node "{node}" is not allowed to modify labels: {", ".join(forbidden)}')
        if op == "UPDATE" and ((obj.get("spec") or {}).get("taints") or []) != (((old or {}).get("spec") or {}).get("taints") or []):
            raise deny(f'node "{node}" is not allowed to modify taints')


# labels a kubelet may set on its own Node (upstream's kubeletapis.IsKubeletLabel); any other label
# in the kubernetes.io / k8s.io namespaces, and node-restriction.kubernetes.io/ above all, is the
# cluster admin's: a node must not move itself into another isolation group
_KUBELET_LABELS = {"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
                   "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type", "failure-domain.beta.kubernetes.io/region",
                   "failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
                   "node.kubernetes.io/instance-type", "node.kubernetes.io/windows-build"}
_KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _node_may_set_label(key: str) -> bool:
    prefix = key.split("/", 1)[0] if "/" in key else ""
    if key in _KUBELET_LABELS:
        return True
    if prefix == "node-restriction.kubernetes.io" or prefix.endswith(".node-restriction.kubernetes.io"):
        return False
    if any(prefix == ns or prefix.endswith("." + ns) for ns in _KUBELET_NAMESPACES):
        return True
    return not any(prefix == ns or prefix.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))
