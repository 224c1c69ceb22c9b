"""Fixed-window hit counters in memory: the arithmetic behind the rate limits.

A key's window opens at its first hit and lasts the limit's period; every hit in it counts,
refused ones too, and the next hit after it ends opens a new one. These are the `limits`
library's fixed windows (the edge used its `MemoryStorage` before), without what made them
cost ~10 µs a request: a timer thread started again every 10 ms to expire keys, a lock per key
and three key strings built per hit. Expired keys are dropped instead by a sweep at most once
a period, on a hit, so memory stays bounded by the keys seen in the last two periods.

Single-threaded by design: the event loop is the only caller (docs/performance.md).
"""

import time
from collections.abc import Callable, Hashable
from typing import NamedTuple


class Hit(NamedTuple):
    allowed: bool
    remaining: int  # hits left in the window
    reset_seconds: int  # whole seconds until the window ends, at least 1


class FixedWindows:
    """`limit` hits per key per `seconds`-long window."""

    def __init__(
        self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._windows: dict[Hashable, list[float]] = {}  # key -> [ends at, hits]
        self._next_sweep = clock() + seconds

    def hit(self, key: Hashable, cost: int = 1) -> Hit:
        """Count `cost` hits for `key` (a request that weighs several counts as several)."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            window = self._windows[key] = [now + self.seconds, 0]
        window[1] += cost
        hits = int(window[1])
        return Hit(hits <= self.limit, max(0, self.limit - hits), max(1, round(window[0] - now)))

    def peek(self, key: Hashable) -> Hit:
        """The key's window without counting a hit: `allowed` when the next hit would be."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            return Hit(True, self.limit, max(1, round(self.seconds)))
        hits = int(window[1])
        return Hit(hits < self.limit, max(0, self.limit - hits), max(1, round(window[0] - now)))

    def _sweep(self, now: float) -> None:
        self._windows = {key: window for key, window in self._windows.items() if window[0] > now}
        self._next_sweep = now + self.seconds

    def __len__(self) -> int:
        """Keys held (open windows, and ended ones not swept yet)."""
        return len(self._windows)
