"""A hub message is rendered once for all subscribers, and reads as `json.dumps` rendered it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

from emsync.core.realtime import Hub, Published, Subscriber, render


class Band(StrEnum):
    HIGH = "high"


class Level(IntEnum):
    TWO = 2


@dataclass
class Point:
    x: int


async def _nobody(_token: str) -> Any:
    return None


def test_render_reads_back_as_json_dumps_with_default_str() -> None:
    message: dict[str, Any] = {
        "at": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
        "day": date(2026, 1, 2),
        "id": uuid.UUID(int=7),
        "dose": Decimal("1.50"),
        "point": Point(3),
        "band": Band.HIGH,
        "level": Level.TWO,
        "pair": (1, 2.5),
        "keys": {1: "a", "b": None},
        "text": 'Ä ☃ \n "q"',
        "big": 2**70,
        "flags": [True, False, None],
    }
    expected = json.loads(json.dumps(message, default=str))
    assert json.loads(render(message)) == expected
    small = {k: v for k, v in message.items() if k != "big"}  # orjson's path, not the fallback
    assert json.loads(render(small)) == json.loads(json.dumps(small, default=str))


async def _allow(_principal: Any, _arg: str | None) -> bool:
    return True


async def test_a_published_message_is_queued_once_and_rendered_once_for_every_subscriber() -> None:
    hub = Hub(_nobody)
    hub.register_channel("vitals", _allow)
    subs = [Subscriber(principal=None) for _ in range(3)]
    for sub in subs:
        assert await hub.subscribe(sub, "vitals:p") is None
    hub.publish("vitals:p", "vitals", {"readings": [{"hr": 70}]})
    queued = [sub.queue.get_nowait() for sub in subs]
    assert all(q is queued[0] for q in queued)
    message = queued[0]
    assert isinstance(message, Published)
    assert message == {
        "channel": "vitals:p",
        "type": "vitals",
        "data": {"readings": [{"hr": 70}]},
        "seq": 1,
    }
    assert message.text() is message.text()
    assert json.loads(message.text()) == message
