"""The admission chain: an ordered list of plugins, run as two phases.

As upstream's chainAdmissionHandler (staging/src/k8s.io/apiserver/pkg/admission/chain.go), one
list in kube-apiserver's plugin order (pkg/kubeapiserver/options/plugins.go AllOrderedPlugins)
serves both phases: `admit` runs the mutating plugins that handle the operation, `validate` the
validating ones, each phase in list order and stopping at the first refusal. The registry calls
`admit` before it prepares, defaults and validates the object and `validate` after, just before
the write (registry/store.py), then calls the FinishFunc `validate` returned with the outcome.
The plugins kubeling runs, in order, are listed in plugins.py; an empty chain admits everything.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .interfaces import (AfterDelete, Attributes, FinishFunc, Interface, MutationInterface, Reservation,
                         ValidationInterface, finish_nothing)

if TYPE_CHECKING:
    from ..registry.store import Store


class AdmissionChain:
    """The plugins in order; a plugin may be mutating, validating (or reserving), or both."""

    def __init__(self, plugins: Sequence[Interface] = ()) -> None:
        self.plugins = tuple(plugins)

    async def admit(self, a: Attributes) -> None:
        """The mutating phase: plugins may change `a.obj`; the first refusal ends the request."""
        for p in self.plugins:
            if isinstance(p, MutationInterface) and p.handles(a.operation):
                await p.admit(a)

    async def validate(self, a: Attributes) -> FinishFunc:
        """The validating phase, on the object as it will be written. Returns one FinishFunc for
        everything reserved; if a later plugin refuses, what earlier ones reserved is given back
        before the refusal propagates."""
        finishes: list[FinishFunc] = []

        async def finish(success: bool) -> None:
            for f in reversed(finishes):
                await f(success)

        try:
            for p in self.plugins:
                if not p.handles(a.operation):
                    continue
                if isinstance(p, ValidationInterface):
                    await p.validate(a)
                if isinstance(p, Reservation):
                    finishes.append(await p.reserve(a))
        except BaseException:
            await finish(False)
            raise
        return finish if finishes else finish_nothing

    async def after_delete(self, store: "Store", obj: dict[str, Any]) -> None:
        for p in self.plugins:
            if isinstance(p, AfterDelete):
                await p.after_delete(store, obj)
