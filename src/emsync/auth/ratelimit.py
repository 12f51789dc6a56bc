"""Sliding-window limiter for login attempts, per account and per client address (pure)."""

from __future__ import annotations

from collections import defaultdict, deque


class SlidingWindowLimiter:
    def __init__(self, *, limit: int, window_seconds: float) -> None:
        self._limit = limit
        self._window = window_seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` may try again; 0 when it may try now."""
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) < self._limit:
            return 0.0
        return hits[0] + self._window - now

    def hit(self, key: str, now: float) -> None:
        self._hits[key].append(now)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
