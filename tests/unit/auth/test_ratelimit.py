from __future__ import annotations

from emsync.auth.ratelimit import SlidingWindowLimiter


def test_limit_blocks_until_the_oldest_attempt_leaves_the_window() -> None:
    limiter = SlidingWindowLimiter(limit=3, window_seconds=60)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("alice", t) == 0
        limiter.hit("alice", t)
    assert limiter.retry_after("alice", 3.0) == 57.0
    assert limiter.retry_after("bob", 3.0) == 0
    assert limiter.retry_after("alice", 60.5) == 0


def test_reset_clears_an_account() -> None:
    limiter = SlidingWindowLimiter(limit=1, window_seconds=60)
    limiter.hit("alice", 0)
    limiter.reset("alice")
    assert limiter.retry_after("alice", 1) == 0


def test_keys_whose_attempts_left_the_window_are_forgotten() -> None:
    limiter = SlidingWindowLimiter(limit=5, window_seconds=60)
    for n in range(1000):
        limiter.hit(f"user{n}", 0.0)
    assert len(limiter) == 1000
    limiter.hit("late", 61.0)
    assert len(limiter) == 1


def test_the_number_of_keys_is_bounded() -> None:
    limiter = SlidingWindowLimiter(limit=5, window_seconds=60, max_keys=100)
    for n in range(10_000):
        limiter.hit(f"user{n}", n / 1000)
    assert len(limiter) == 100
    assert limiter.retry_after("user9999", 10.0) == 0  # present, under its limit
    for _ in range(5):
        limiter.hit("user9999", 10.0)
    assert limiter.retry_after("user9999", 10.0) > 0
