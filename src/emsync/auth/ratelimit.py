"""Sliding-window limiter for login attempts, per account and per client address (pure).

Bounded (issue #14): keys whose newest attempt has left the window are forgotten as new attempts
arrive (they sit at the front: keys are kept in the order of their latest attempt), and beyond
`max_keys` the least recently tried keys are dropped, so a flood of invented usernames costs a
bounded amount of memory. Dropping a key can only let that key try again sooner; the per-address
limit still holds the flood itself.
"""

from __future__ import annotations

from collections import OrderedDict, deque


class SlidingWindowLimiter:
    def __init__(self, *, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window_seconds
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` may try again; 0 when it may try now."""
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return 0.0
        if len(hits) < self._limit:
            return 0.0
        return hits[0] + self._window - now

    def hit(self, key: str, now: float) -> None:
        self._expire(now)
        hits = self._hits.get(key)
        if hits is None:
            # Only the last `limit` attempts decide anything: a deque of that length at most.
            hits = self._hits[key] = deque(maxlen=self._limit)
        hits.append(now)
        self._hits.move_to_end(key)
        while len(self._hits) > self._max_keys:
            self._hits.popitem(last=False)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _expire(self, now: float) -> None:
        horizon = now - self._window
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and hits[-1] > horizon:
                return
            del self._hits[key]
