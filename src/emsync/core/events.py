"""In-process event bus. Events are published after the transaction that caused them commits.

A failing handler is retried with backoff; if it still fails the event goes to the dead-letter
sink with the error, and is logged with context: a silently lost clinical alert is a defect.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import structlog

from emsync.core.metrics import Metrics

log = structlog.get_logger("emsync.events")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of past-tense domain events (IncidentCreated, VitalsReceived, ...)."""

    name: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
                return value.value
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    event: Event
    handler: str
    error: str


class EventBus:
    def __init__(
        self,
        *,
        metrics: Metrics,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        dead_letter: Callable[[DeadLetter], Awaitable[None]] | None = None,
    ) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        self._any: list[Handler] = []
        self._metrics = metrics
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._dead_letter = dead_letter
        self.dead_letters: list[DeadLetter] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._handlers[event_type].append(handler)

    def subscribe_all(self, handler: Callable[[Event], Awaitable[None]]) -> None:
        """For bridges (WebSocket push, Redis fan-out) that forward every event."""
        self._any.append(handler)

    async def publish(self, *events: Event) -> None:
        for event in events:
            handlers = [*self._handlers.get(type(event), ()), *self._any]
            for handler in handlers:
                await self._deliver(event, handler)

    async def _deliver(self, event: Event, handler: Handler) -> None:
        handler_name = getattr(handler, "__qualname__", repr(handler))
        for attempt in range(1, self._attempts + 1):
            try:
                await handler(event)
                return
            except Exception as exc:  # noqa: BLE001 - every failure is retried, then dead-lettered
                self._metrics.event_handler_failures.labels(event=event.name).inc()
                log.warning(
                    "event handler failed",
                    event=event.name,
                    handler=handler_name,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                if attempt == self._attempts:
                    letter = DeadLetter(event=event, handler=handler_name, error=repr(exc))
                    self.dead_letters.append(letter)
                    log.error("event dead-lettered", event=event.name, handler=handler_name)
                    if self._dead_letter is not None:
                        await self._dead_letter(letter)
                    return
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
