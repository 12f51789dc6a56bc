"""In-process event bus. Events are published after the transaction that caused them commits.

A failing handler is retried with backoff; if it still fails the event goes to the dead-letter
sink with the error, and is logged with context: a silently lost clinical alert is a defect.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

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
# A reaction that writes in the transaction of the change that caused the event (a durable
# outbox row: a notification is committed with its cause or not at all). It returns the events
# its own writes caused, published after the commit with the cause's.
TransactionalHandler = Callable[[AsyncSession, Any], Awaitable[Sequence["Event"]]]


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
        # Each handler with its attempts (None: the bus's own).
        self._handlers: dict[type[Event], list[tuple[Handler, int | None]]] = defaultdict(list)
        self._any: list[tuple[Handler, int | None]] = []
        self._in_transaction: dict[type[Event], list[TransactionalHandler]] = defaultdict(list)
        self._metrics = metrics
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._dead_letter = dead_letter
        self.dead_letters: list[DeadLetter] = []

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Awaitable[None]],
        *,
        attempts: int | None = None,
    ) -> None:
        """`handler(event)` runs after the cause commits; `attempts` (default: the bus's) before
        the event is dead-lettered for it."""
        self._handlers[event_type].append((handler, attempts))

    def subscribe_in_transaction(
        self,
        event_type: type[E],
        handler: Callable[[AsyncSession, E], Awaitable[Sequence[Event]]],
    ) -> None:
        """`handler(session, event)` runs before the cause commits, in its transaction."""
        self._in_transaction[event_type].append(handler)

    async def stage(self, session: AsyncSession, events: Sequence[Event]) -> list[Event]:
        """Run the in-transaction reactions to `events`; the caller commits afterwards, then
        publishes `events` and the follow-up events returned here.

        Each runs in a savepoint: a failing reaction is rolled back alone, logged and
        dead-lettered, and never takes the cause (a stored reading, a raised alert) down with it.
        """
        follow: list[Event] = []
        for event in events:
            for handler in self._in_transaction.get(type(event), ()):
                handler_name = getattr(handler, "__qualname__", repr(handler))
                try:
                    async with session.begin_nested():
                        follow.extend(await handler(session, event))
                except Exception as exc:  # noqa: BLE001 - rolled back alone, then dead-lettered
                    self._metrics.event_handler_failures.labels(event=event.name).inc()
                    log.error(
                        "in-transaction handler failed; dead-lettered",
                        event_name=event.name,
                        handler=handler_name,
                        error=type(exc).__name__,
                    )
                    letter = DeadLetter(event=event, handler=handler_name, error=repr(exc))
                    self.dead_letters.append(letter)
                    if self._dead_letter is not None:
                        await self._dead_letter(letter)
        return follow

    def subscribe_all(self, handler: Callable[[Event], Awaitable[None]]) -> None:
        """For bridges (WebSocket push, Redis fan-out) that forward every event."""
        self._any.append((handler, None))

    async def publish(self, *events: Event) -> None:
        for event in events:
            handlers = [*self._handlers.get(type(event), ()), *self._any]
            for handler, attempts in handlers:
                await self._deliver(event, handler, attempts or self._attempts)

    async def _deliver(self, event: Event, handler: Handler, attempts: int) -> None:
        handler_name = getattr(handler, "__qualname__", repr(handler))
        for attempt in range(1, attempts + 1):
            try:
                await handler(event)
                return
            except Exception as exc:  # noqa: BLE001 - every failure is retried, then dead-lettered
                self._metrics.event_handler_failures.labels(event=event.name).inc()
                log.warning(
                    "event handler failed",
                    event_name=event.name,
                    handler=handler_name,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                if attempt == attempts:
                    letter = DeadLetter(event=event, handler=handler_name, error=repr(exc))
                    self.dead_letters.append(letter)
                    log.error("event dead-lettered", event_name=event.name, handler=handler_name)
                    if self._dead_letter is not None:
                        await self._dead_letter(letter)
                    return
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
