"""NamespaceLifecycle: nothing is created in a missing or terminating namespace; the system
namespaces cannot be deleted."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..api import errors

if TYPE_CHECKING:
    from ..registry.store import Store
    from .chain import AdmissionChain

IMMORTAL = ("default", "kube-system", "kube-public")


class NamespaceLifecycle:
    def __init__(self, chain: "AdmissionChain") -> None:
        self.chain = chain

    async def admit(self, op: str, store: "Store", obj: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        s = store.strategy
        if s.resource == "namespaces":
            name = ((old or obj or {}).get("metadata") or {}).get("name", "")
            if op == "DELETE" and name in IMMORTAL:
                raise errors.forbidden("namespaces", name, "this namespace may not be deleted")
            return
        if op != "CREATE" or not s.namespaced or obj is None or self.chain.registry is None:
            return
        ns_name = obj["metadata"].get("namespace")
        ns_store = self.chain.registry.get("", "v1", "namespaces")
        # a live read, not the watch cache: a namespace that started terminating a moment ago
        # must already refuse new content (the cache may lag by a few milliseconds)
        ns = await ns_store.try_get(None, ns_name)
        if ns is None:
            raise errors.not_found("namespaces", ns_name)
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            if s.resource == "events":
                return
            raise errors.StatusError(403, "Forbidden",
                                     f'{s.group_resource} "{obj["metadata"].get("name") or obj["metadata"].get("generateName", "")}" is forbidden: '
                                     f"unable to create new content in namespace {ns_name} because it is being terminated",
                                     {"name": obj["metadata"].get("name", ""), "kind": s.resource,
                                      "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {ns_name} is being terminated", "field": "metadata.namespace"}]})
