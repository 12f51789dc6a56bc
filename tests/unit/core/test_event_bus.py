"""A failing handler is retried, then dead-lettered with a log line; the bus itself never fails
(structlog's first positional is named `event`: a keyword of that name used to raise here)."""

from __future__ import annotations

from emsync.core.events import Event, EventBus
from emsync.core.logging import configure_logging
from emsync.core.metrics import Metrics


async def test_a_failing_handler_is_retried_then_dead_lettered() -> None:
    configure_logging(level="WARNING", json=True)
    bus = EventBus(metrics=Metrics(), attempts=2, backoff_seconds=0)
    calls: list[Event] = []

    async def broken(event: Event) -> None:
        calls.append(event)
        raise RuntimeError("down")

    bus.subscribe(Event, broken)
    await bus.publish(Event())
    assert len(calls) == 2
    assert [d.error for d in bus.dead_letters] == ["RuntimeError('down')"]
