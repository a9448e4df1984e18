"""RBAC privilege-escalation prevention as a validating step (the rules are auth/escalation.py).

Upstream checks escalation in the RBAC registry's policy-based storage
(pkg/registry/rbac/role/policybased/storage.go and its siblings), which wraps the generic store's
Create and Update; kubeling runs the same check on the fully formed Role, ClusterRole,
RoleBinding or ClusterRoleBinding, just before it is written.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..auth import escalation
from .interfaces import Attributes, Operation, ValidationInterface

if TYPE_CHECKING:
    from ..auth.authz import Authorizer


class RBACEscalation(ValidationInterface):
    operations = frozenset({Operation.CREATE, Operation.UPDATE})

    def __init__(self, authorizer: Callable[[], "Authorizer"]) -> None:
        """`authorizer` returns the apiserver's authorizer, which is built after the registry this
        chain serves (its RBAC authorizer reads the RBAC stores), so it is asked for per request."""
        self.authorizer = authorizer

    async def validate(self, a: Attributes) -> None:
        escalation.check(self.authorizer(), a.store, a.obj)
