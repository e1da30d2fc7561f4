"""Client-side spacing of calls to APIs with a published per-account rate, such as CloudTrail
``LookupEvents`` (2 requests per second per account and region)."""

from __future__ import annotations

import threading
import time
from typing import Callable, Hashable


class RateLimiter:
    """At most ``rate`` calls per second per key; ``wait(key)`` blocks until a call may go.

    A key whose next slot has passed constrains nothing; those are dropped whenever the table
    has doubled since the last sweep, so keys of accounts that left (or ran no call lately) do
    not accumulate, at an amortized constant cost per call."""

    MIN_SWEEP = 64

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self._spacing = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[Hashable, float] = {}
        self._lock = threading.Lock()
        self._sweep_at = self.MIN_SWEEP

    def wait(self, key: Hashable) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self._spacing
            if len(self._next) >= self._sweep_at:
                self._next = {k: t for k, t in self._next.items() if t > now}
                self._sweep_at = max(self.MIN_SWEEP, 2 * len(self._next))
        if slot > now:
            self._sleep(slot - now)

    def __len__(self) -> int:
        with self._lock:
            return len(self._next)
