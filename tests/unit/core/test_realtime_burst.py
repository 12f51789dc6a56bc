"""A connection's sender takes every message queued for it in one wake-up (up to SEND_BURST), so
pushes published together are written together instead of one event-loop turn (or several)
apiece; with nothing queued it waits for the next message or the token's expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from emsync.core.realtime import SEND_BURST, Hub, Subscriber, next_messages


async def _nobody(_token: str) -> Any:
    return None


async def _allow(_principal: Any, _arg: str | None) -> bool:
    return True


@dataclass
class _Expiring:
    expires_at: datetime


async def test_everything_queued_is_taken_in_one_burst_in_order() -> None:
    hub = Hub(_nobody)
    hub.register_channel("vitals", _allow)
    sub = Subscriber(principal=None)
    for patient in range(20):
        assert await hub.subscribe(sub, f"vitals:p{patient}") is None
    for patient in range(20):  # one ingest batch: a message per patient
        hub.publish(f"vitals:p{patient}", "vitals", {"readings": [{"hr": 60 + patient}]})
    burst = await next_messages(sub)
    assert [m["channel"] for m in burst] == [f"vitals:p{p}" for p in range(20)]
    assert sub.queue.empty()


async def test_a_burst_is_bounded_and_the_rest_follows_in_the_next() -> None:
    hub = Hub(_nobody)
    hub.register_channel("vitals", _allow)
    sub = Subscriber(principal=None)
    assert await hub.subscribe(sub, "vitals:p") is None
    for i in range(SEND_BURST + 5):
        hub.publish("vitals:p", "vitals", {"readings": [{"hr": i}]})
    first = await next_messages(sub)
    second = await next_messages(sub)
    assert len(first) == SEND_BURST
    assert [m["seq"] for m in first + second] == list(range(1, SEND_BURST + 6))


async def test_with_nothing_queued_an_expired_token_wakes_the_sender() -> None:
    sub = Subscriber(principal=_Expiring(datetime.now(UTC) - timedelta(seconds=1)))
    burst = await next_messages(sub)
    assert len(burst) == 1
    assert burst[0]["type"] == "_wake"
