"""NamespaceLifecycle: nothing is created in a missing or terminating namespace; the system
namespaces cannot be deleted.

A mutating plugin upstream (staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/
admission.go `Admit`), so it refuses a create into a missing namespace before the object is
validated: such a request gets 404 (namespace not found), whatever is wrong with its body.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..api import errors
from .interfaces import Attributes, MutationInterface, Operation

if TYPE_CHECKING:
    from ..registry.catalog import Registry

IMMORTAL = ("default", "kube-system", "kube-public")


class NamespaceLifecycle(MutationInterface):
    operations = frozenset({Operation.CREATE, Operation.UPDATE, Operation.DELETE})

    def __init__(self, registry: "Registry") -> None:
        self.registry = registry

    async def admit(self, a: Attributes) -> None:
        s = a.strategy
        if s.resource == "namespaces":
            if a.operation == Operation.DELETE and a.name in IMMORTAL:
                raise errors.forbidden("namespaces", a.name, "this namespace may not be deleted")
            return
        # updates and deletes of other resources are always allowed; so is anything cluster-scoped
        if a.operation != Operation.CREATE or not s.namespaced or a.obj is None:
            return
        md = a.obj["metadata"]
        ns_name = md.get("namespace")
        ns_store = self.registry.stores[("", "namespaces")]
        # a live read, not the watch cache: a namespace that started terminating a moment ago
        # must already refuse new content (the cache may lag by a few milliseconds)
        ns = await ns_store.try_get(None, ns_name)
        if ns is None:
            raise errors.not_found("namespaces", ns_name)
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            if s.resource == "events":
                return
            name = md.get("name") or md.get("generateName", "")
            raise errors.StatusError(403, "Forbidden",
                                     f'{s.group_resource} "{name}" is forbidden: '
                                     f"unable to create new content in namespace {ns_name} because it is being terminated",
                                     {"name": md.get("name", ""), "kind": s.resource,
                                      "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {ns_name} is being terminated", "field": "metadata.namespace"}]})
