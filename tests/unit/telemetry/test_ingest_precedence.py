"""The ingest says it is behind when the oldest message waiting for the pipeline has waited over
BEHIND_SECONDS (API requests then defer to it), and that it may have caught up whenever it takes
a batch; it is active (API requests of its process take fewer turns) for ACTIVE_SECONDS after
taking one."""

from __future__ import annotations

import asyncio
import time
from typing import cast

from prometheus_client import CollectorRegistry

from emsync.core.admission import Precedence
from emsync.core.settings_telemetry import MqttSettings
from emsync.telemetry.ingest import ACTIVE_SECONDS, BEHIND_SECONDS, MqttIngest
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.pipeline import Inbound, Pipeline


def _ingest(caught_up: Precedence) -> MqttIngest:
    # The pipeline is not reached: only the hand-off queue between the threads is used here.
    return MqttIngest(
        settings=MqttSettings(),
        pipeline=cast(Pipeline, None),
        metrics=TelemetryMetrics(CollectorRegistry()),
        caught_up=caught_up.caught_up,
    )


async def test_behind_only_while_the_oldest_waiting_message_is_late() -> None:
    precedence = Precedence()
    ingest = _ingest(precedence)
    precedence.register(ingest.behind)
    assert not ingest.behind()  # nothing waiting
    now = time.monotonic()
    queue = ingest._queue
    queue.append((0, 1, Inbound("t", b"", now)))
    assert not ingest.behind()  # waiting, not yet late
    queue.appendleft((0, 2, Inbound("t", b"", now - 10 * BEHIND_SECONDS)))
    assert ingest.behind()
    assert precedence.behind()
    queue.clear()
    queue.append((0, 3, None))  # another partition's message: only acknowledged, never late
    assert not ingest.behind()


async def test_taking_a_batch_wakes_the_deferred_requests_once_nothing_is_late() -> None:
    precedence = Precedence()
    ingest = _ingest(precedence)
    precedence.register(ingest.behind)
    ingest._queue.append((0, 1, Inbound("t", b"", time.monotonic() - 1)))
    waiting = precedence._waiters
    deferred = asyncio.create_task(precedence.wait(60))
    await asyncio.sleep(0)
    assert len(waiting) == 1
    batch = await ingest._next_batch()
    assert [mid for _gen, mid, _msg in batch] == [1]
    for _ in range(5):
        await asyncio.sleep(0)
    assert deferred.done()  # woken by the batch's taking, not by its minute running out
    assert precedence._waiters == []


async def test_active_for_a_while_after_taking_a_batch() -> None:
    precedence = Precedence()
    ingest = _ingest(precedence)
    precedence.register(ingest.behind, ingest.active)
    assert not ingest.active()  # no reading taken yet
    assert not precedence.active()
    ingest._queue.append((0, 1, Inbound("t", b"", time.monotonic())))
    await ingest._next_batch()
    assert ingest.active()
    assert precedence.active()
    ingest._last_batch = time.monotonic() - 2 * ACTIVE_SECONDS  # as if that was long ago
    assert not ingest.active()
    assert not precedence.active()
