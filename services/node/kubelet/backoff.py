"""Per-key exponential back-off with the kubelet's numbers: 10 s doubling to 5 minutes, reset
after a container ran cleanly for twice the maximum (flowcontrol.Backoff)."""
from __future__ import annotations

import time
from collections.abc import Callable


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self.entries: dict[str, tuple[float, float]] = {}  # key -> (duration, last update)

    def next(self, key: str) -> float:
        """Record a failure now; returns the new delay."""
        now = self.clock()
        dur, last = self.entries.get(key, (0.0, 0.0))
        if dur == 0 or now - last > 2 * self.maximum:
            dur = self.initial
        else:
            dur = min(dur * 2, self.maximum)
        self.entries[key] = (dur, now)
        return dur

    def in_backoff(self, key: str) -> float:
        """Seconds left in the key's back-off window (0 when it may be retried)."""
        e = self.entries.get(key)
        if not e:
            return 0.0
        left = e[1] + e[0] - self.clock()
        return max(left, 0.0)

    def current(self, key: str) -> float:
        return self.entries.get(key, (0.0, 0.0))[0]

    def reset(self, key: str) -> None:
        self.entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for k in [k for k in self.entries if k.startswith(prefix)]:
            del self.entries[k]
