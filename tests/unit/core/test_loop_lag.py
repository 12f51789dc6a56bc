"""The event-loop lag monitor sees a stall of the loop (the metric behind /metrics' lag)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, Histogram

from emsync.core.background import LoopLag


def _samples(histogram: Histogram) -> tuple[float, float]:
    """(count, sum) of an unlabelled histogram."""
    values = {s.name: s.value for m in histogram.collect() for s in m.samples}
    return values["lag_seconds_count"], values["lag_seconds_sum"]


def _hold_the_loop(seconds: float) -> None:
    """What a long synchronous step does to everything on the loop (on purpose here)."""
    time.sleep(seconds)


async def test_a_blocked_loop_is_observed_as_lag_at_least_as_long_as_the_block() -> None:
    histogram = Histogram("lag_seconds", "test", registry=CollectorRegistry())
    monitor = LoopLag(histogram, interval=0.01)
    await monitor.start()
    await asyncio.sleep(0)  # its timer is armed: due 10 ms from now
    _hold_the_loop(0.08)  # the timer runs >= 70 ms late
    while _samples(histogram)[0] == 0:  # noqa: ASYNC110 - polling the metric is the point
        await asyncio.sleep(0.005)
    await monitor.stop()
    count, total = _samples(histogram)
    assert count >= 1
    assert total >= 0.07  # a lower bound: the block guarantees it, however slow the machine
    await monitor.stop()  # stopping twice is harmless
