"""ControllerExpectations: how many creates and deletes a controller still waits to see.

A controller that has just created 5 pods must not create them again when the next sync
runs before the informer has delivered the pods. It records what it expects; informer
handlers lower the counts as the events arrive; `satisfied` gates the next create/delete
round. Expectations expire (5 minutes, as upstream) so a lost event cannot wedge a controller.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expectation:
    add: int = 0
    delete: set[str] = field(default_factory=set)
    timestamp: float = field(default_factory=time.monotonic)


class Expectations:
    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT, clock=time.monotonic) -> None:
        self.timeout = timeout
        self.clock = clock
        self._items: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        e = self._items.get(key)
        if e is None:
            return True
        if e.add <= 0 and not e.delete:
            return True
        return self.clock() - e.timestamp > self.timeout

    def expect_creations(self, key: str, n: int) -> None:
        self._items[key] = _Expectation(add=n, timestamp=self.clock())

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._items[key] = _Expectation(delete=set(pod_keys), timestamp=self.clock())

    def creation_observed(self, key: str) -> None:
        e = self._items.get(key)
        if e is not None and e.add > 0:
            e.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._items.get(key)
        if e is not None:
            e.delete.discard(pod_key)

    def forget(self, key: str) -> None:
        self._items.pop(key, None)
