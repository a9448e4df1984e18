"""The admission phases and what a plugin sees: the one place that defines them.

Upstream (staging/src/k8s.io/apiserver/pkg/admission/interfaces.go) has two kinds of plugin, each
saying which operations it `Handles`:
- a MutationInterface `Admit`s a request and may change the object; mutating admission runs
  before the registry's PrepareForCreate/Update, defaulting and validation, so whatever a mutating
  plugin adds is defaulted and validated like what the client sent (create.go, update.go in
  staging/src/k8s.io/apiserver/pkg/endpoints/handlers);
- a ValidationInterface `Validate`s the fully formed (prepared, defaulted, validated) object and
  must not change it; the registry calls it just before the storage write, as the
  `createValidation`/`updateValidation` funcs (staging/src/k8s.io/apiserver/pkg/registry/
  generic/registry/store.go).

Kubeling's quota admission keeps a ledger (status.used) rather than leaving it to the quota
controller, so what it charges must be given back when the write does not happen. A plugin that
reserves something is a `Reservation`: it validates like a ValidationInterface and returns a
`FinishFunc(success)` which the registry calls exactly once, after the write succeeded or failed,
as genericregistry.Store calls the FinishFunc its BeginCreate/BeginUpdate hooks return
(rest.FinishFunc, finishNothing in store.go). An `AfterDelete` plugin hears about objects that
left the store (upstream's genericregistry.Store.AfterDelete), so a ledger shrinks with them.
"""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..auth import context

if TYPE_CHECKING:
    from ..auth.user import UserInfo
    from ..registry.store import Store
    from ..registry.strategy import Strategy


class Operation(str, enum.Enum):
    """upstream's admission.Operation."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONNECT = "CONNECT"


FinishFunc = Callable[[bool], Awaitable[None]]
"""Called once with whether the write happened: False gives back what was reserved."""


async def finish_nothing(success: bool) -> None:
    """The FinishFunc of a phase that reserved nothing (upstream's finishNothing)."""


@dataclass(frozen=True)
class Attributes:
    """One admission request (upstream's admission.Attributes).

    `obj` is the object being written (None on DELETE); mutating plugins change it in place.
    `old` is the stored object on UPDATE and DELETE. `store` is the kind's storage: its strategy
    names the resource and kind, and plugins that need other kinds' state (quota, namespace
    lifecycle) read the registry as upstream's plugins read informers."""

    operation: Operation
    store: "Store"
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    subresource: str = ""
    dry_run: bool = False
    user: "UserInfo | None" = None

    @property
    def strategy(self) -> "Strategy":
        return self.store.strategy

    @property
    def name(self) -> str:
        """The object's name; "" for a create that asked for a generated name before it got one."""
        for o in (self.obj, self.old):
            name = ((o or {}).get("metadata") or {}).get("name")
            if name:
                return str(name)
        return ""

    @property
    def namespace(self) -> str:
        for o in (self.obj, self.old):
            ns = ((o or {}).get("metadata") or {}).get("namespace")
            if ns:
                return str(ns)
        return ""


def attributes(operation: Operation, store: "Store", obj: dict[str, Any] | None, old: dict[str, Any] | None,
               subresource: str = "", dry_run: bool = False) -> Attributes:
    """Attributes for a registry operation; the user comes from the request being served (the
    auth context set by server/auth.py), as upstream's handlers take it from the request context.
    Writes the apiserver makes for itself (bootstrap) have no user."""
    request = context.current.get()
    return Attributes(operation, store, obj, old, subresource, dry_run, request.user if request is not None else None)


class Interface(ABC):
    """A plugin: the operations it handles (upstream's admission.Handler)."""

    operations: ClassVar[frozenset[Operation]]

    def handles(self, operation: Operation) -> bool:
        return operation in self.operations


class MutationInterface(Interface):
    @abstractmethod
    async def admit(self, a: Attributes) -> None:
        """Change `a.obj` as the plugin requires, or raise a StatusError to refuse the request."""


class ValidationInterface(Interface):
    @abstractmethod
    async def validate(self, a: Attributes) -> None:
        """Refuse the request with a StatusError, or return; never change `a.obj`."""


class Reservation(Interface):
    @abstractmethod
    async def reserve(self, a: Attributes) -> FinishFunc:
        """Validate and reserve what the write will use; the returned FinishFunc(success) gives
        it back when success is False. Raising reserves nothing."""


class AfterDelete(ABC):
    @abstractmethod
    async def after_delete(self, store: "Store", obj: dict[str, Any]) -> None:
        """`obj` has just left the store (deleted, or its last finalizer removed)."""
