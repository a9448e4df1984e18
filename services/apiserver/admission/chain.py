"""The admission chain: mutating plugins first, then validating ones, as kube-apiserver orders them
(NodeRestriction first: it only reads who the request comes from)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..auth import escalation
from .namespace_lifecycle import NamespaceLifecycle
from .noderestriction import NodeRestriction
from .resource_quota import ResourceQuotaAdmission
from .service_account import ServiceAccountAdmission
from .tolerations import DefaultTolerationSeconds

if TYPE_CHECKING:
    from ..auth.authz import Authorizer
    from ..registry.catalog import Registry
    from ..registry.store import Store


class AdmissionChain:
    def __init__(self) -> None:
        self.registry: "Registry | None" = None
        self.lifecycle = NamespaceLifecycle(self)
        self.mutating = [ServiceAccountAdmission(), DefaultTolerationSeconds()]
        self.quota = ResourceQuotaAdmission(self)
        # --enable-admission-plugins=NodeRestriction (off by default, as upstream); acts only on system:node:<name> users
        self.node_restriction: NodeRestriction | None = None
        self.authorizer: "Authorizer | None" = None  # set by the APIServer; RBAC escalation checks need it

    def bind(self, registry: "Registry") -> None:
        self.registry = registry

    async def __call__(self, op: str, store: "Store", obj: dict[str, Any] | None, old: dict[str, Any] | None,
                       dry_run: bool) -> None:
        """op is CREATE, UPDATE, DELETE (before the write), DELETED (the object left the store),
        CREATE_ABORTED / UPDATE_ABORTED (admitted, but not written: charges are given back)."""
        if op in ("DELETED", "CREATE_ABORTED"):
            await self.quota.released(store, old or {})
            return
        if op == "UPDATE_ABORTED":  # obj is what was refused, old what stays: charge the difference back
            await self.quota.admit(store, old or {}, False, old=obj)
            return
        if self.node_restriction is not None:
            self.node_restriction.admit(op, store, obj, old)
        if self.authorizer is not None and op in ("CREATE", "UPDATE"):
            escalation.check(self.authorizer, store, obj)  # RBAC: no granting what one does not hold
        await self.lifecycle.admit(op, store, obj, old)
        if op == "CREATE" and obj is not None:
            for plugin in self.mutating:
                plugin.admit(store.strategy, obj)
            await self.quota.admit(store, obj, dry_run)
        elif op == "UPDATE" and obj is not None and old is not None:
            await self.quota.admit(store, obj, dry_run, old=old)
