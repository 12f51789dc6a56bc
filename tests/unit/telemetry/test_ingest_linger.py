"""A message that reaches an idle ingest waits `batch_linger_ms` for others to share its batch's
fixed cost; one that has already waited that long, or a full batch, goes at once."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest
from prometheus_client import CollectorRegistry

from emsync.core.settings_telemetry import MqttSettings
from emsync.telemetry.ingest import MqttIngest, linger_seconds
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.pipeline import Inbound, Pipeline


def test_a_fresh_message_waits_until_it_is_the_linger_old() -> None:
    fresh = linger_seconds(oldest=100.0, now=100.0, linger=0.004, waiting=1, batch_max=10)
    assert fresh == pytest.approx(0.004)
    later = linger_seconds(oldest=100.0, now=100.001, linger=0.004, waiting=3, batch_max=10)
    assert later == pytest.approx(0.003)


def test_a_message_that_has_waited_the_linger_goes_at_once() -> None:
    assert linger_seconds(oldest=100.0, now=100.004, linger=0.004, waiting=1, batch_max=10) == 0
    assert linger_seconds(oldest=100.0, now=101.0, linger=0.004, waiting=1, batch_max=10) == 0


def test_a_full_batch_goes_at_once() -> None:
    assert linger_seconds(oldest=100.0, now=100.0, linger=0.004, waiting=10, batch_max=10) == 0


def test_no_linger_takes_what_has_arrived() -> None:
    assert linger_seconds(oldest=100.0, now=100.0, linger=0.0, waiting=1, batch_max=10) == 0


def test_another_partitions_message_waits_the_whole_linger() -> None:
    # It carries no receipt time (it is only acknowledged); the batch still gathers readings.
    assert linger_seconds(oldest=None, now=100.0, linger=0.004, waiting=1, batch_max=10) == 0.004


def _ingest(linger_ms: float) -> MqttIngest:
    # Built without validation: a linger far over the setting's 10 ms cap keeps these tests
    # independent of how fast a loaded machine runs them.
    return MqttIngest(
        settings=MqttSettings.model_construct(batch_linger_ms=linger_ms),
        pipeline=cast(Pipeline, None),  # not reached: only the hand-off queue is used
        metrics=TelemetryMetrics(CollectorRegistry()),
    )


async def test_messages_arriving_during_the_linger_join_its_batch() -> None:
    ingest = _ingest(200)
    queue = ingest._queue
    taking = asyncio.create_task(ingest._next_batch())
    await asyncio.sleep(0)
    assert ingest._idle  # nothing to do: it waits for a message
    queue.append((0, 1, Inbound("t", b"", time.monotonic())))
    ingest._wake.set()  # what the network thread does for an idle ingest
    for _ in range(3):
        await asyncio.sleep(0)  # woken, it now lingers
    assert not taking.done()
    queue.append((0, 2, Inbound("t", b"", time.monotonic())))
    batch = await asyncio.wait_for(taking, 60)
    assert [mid for _gen, mid, _msg in batch] == [1, 2]


async def test_an_ingest_that_comes_back_to_waiting_messages_takes_them_at_once() -> None:
    ingest = _ingest(3_600_000)  # an hour: lingering here would not end within the test
    ingest._queue.append((0, 1, Inbound("t", b"", time.monotonic())))
    batch = await asyncio.wait_for(ingest._next_batch(), 60)
    assert [mid for _gen, mid, _msg in batch] == [1]
