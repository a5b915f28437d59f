"""Token bucket per subject (or per client address before sign-in).

A key's class (the part before its first ``:``) may have a budget of its own: evidence links
(``evidence:<address>``) are fetched one per alert row and two per review card, so a page of
thumbnails would spend the budget that protects sign-in and the API long before its last image.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping


class RateLimiter:
    def __init__(
        self,
        rate_per_second: float,
        burst: float,
        *,
        budgets: Mapping[str, tuple[float, float]] | None = None,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_second
        self.burst = burst
        # key class -> (rate per second, burst); classes not named here share rate and burst.
        self.budgets = dict(budgets or {})
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens, last refill); LRU so an address scan cannot grow it without bound.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Takes `cost` tokens; returns 0 when allowed, else seconds until it would be."""
        rate, burst = self.budgets.get(key.partition(":")[0], (self.rate, self.burst))
        now = self._clock()
        tokens, last = self._buckets.pop(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / rate if rate > 0 else 3600.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
