"""Client-side spacing of calls to APIs with a published per-account rate, such as CloudTrail
``LookupEvents`` (2 requests per second per account and region)."""

from __future__ import annotations

import threading
import time
from typing import Callable, Hashable


class RateLimiter:
    """At most ``rate`` calls per second per key; ``wait(key)`` blocks until a call may go."""

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self._spacing = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: Hashable) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self._spacing
        if slot > now:
            self._sleep(slot - now)
