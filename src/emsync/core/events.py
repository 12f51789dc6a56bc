"""The event bus: who reacts to which event, and running those reactions in this process.

A failing handler is retried with backoff; if it still fails the event goes to the dead-letter
sink with the error, and is logged with context: a silently lost clinical alert is a defect.

Subscriptions are local (run in the process that committed the cause, right after the commit:
WebSocket forwards, caches, counters) or durable (`durable=True`). A `UnitOfWork` whose bus has
a `Durability` (core.delivery, attached by the composition root) writes the events that have
durable reactions to the outbox in the cause's transaction, and hands them to the transport
after the commit (docs/durable-events.md). `publish()` itself runs every reaction here and now:
the path of work that does not go through a unit of work (the telemetry pipeline's batches).
"""

from __future__ import annotations

import asyncio
import dataclasses
import traceback
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar

import structlog
from pydantic import TypeAdapter
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

AFTER_COMMIT = "after commit"
IN_TRANSACTION = "in transaction"


_ADAPTERS: dict[type[Event], TypeAdapter[Any]] = {}


def _adapter(kind: type[Event]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def encode(event: Event) -> bytes:
    """The event as JSON, typed back by `decode` (datetimes, enums, tuples round-trip)."""
    return _adapter(type(event)).dump_json(event)


def decode(kind: type[E], payload: bytes) -> E:
    event: E = _adapter(kind).validate_json(payload)
    return event


def describe_failure(exc: BaseException) -> str:
    """What a stored dead letter says of its failure: the exception's type and where it was
    raised. Never its message, which may quote clinical values."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    where = last.filename.split("/src/", 1)[-1].split("site-packages/", 1)[-1]
    return f"{type(exc).__name__} at {where}:{last.lineno} in {last.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    event: Event
    handler: str
    error: str
    stage: str = AFTER_COMMIT
    failure: str = ""  # describe_failure(exc): what is stored
    attempts: int = 1


class InTransaction(NamedTuple):
    name: str  # what its dead letters name
    handler: TransactionalHandler
    isolated: bool  # in a savepoint of its own; False: its failure fails the cause
    # Runs only for events this accepts (None: all), asked before any savepoint is opened: an
    # event that cannot concern the reaction costs it no statement at all.
    when: Callable[[Any], bool] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    name: str  # stable across processes and restarts: delivery records and dead letters name it
    handler: Handler
    attempts: int | None  # None: the bus's own
    durable: bool


class Durability(Protocol):
    """What a unit of work needs to make its events durable (core.delivery.EventDurability)."""

    async def claim(self, session: AsyncSession) -> None: ...

    async def before_commit(self, session: AsyncSession, events: Sequence[Event]) -> object: ...

    async def after_commit(self, staged: object) -> None: ...

    async def dead_letter_in(self, session: AsyncSession, letter: DeadLetter) -> None: ...

    async def dead_letter_direct(self, letter: DeadLetter) -> None: ...


def _name_of(handler: Callable[..., Any]) -> str:
    module = getattr(handler, "__module__", "?").removeprefix("emsync.")
    return f"{module}.{getattr(handler, '__qualname__', repr(handler))}"


class EventBus:
    def __init__(
        self,
        *,
        metrics: Metrics,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        dead_letter: Callable[[DeadLetter], Awaitable[None]] | None = None,
    ) -> None:
        self._handlers: dict[type[Event], list[Subscription]] = defaultdict(list)
        self._any: list[Subscription] = []
        self._in_transaction: dict[type[Event], list[InTransaction]] = defaultdict(list)
        self._types: dict[str, type[Event]] = {}
        self._metrics = metrics
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._dead_letter = dead_letter
        self.dead_letters: list[DeadLetter] = []
        # Set by the composition root; None: every reaction runs here after the commit.
        self.durability: Durability | None = None

    def _know(self, kind: type[Event]) -> None:
        known = self._types.setdefault(kind.name, kind)
        if known is not kind:
            raise ValueError(f"two event classes are named {kind.name!r}: {known} and {kind}")

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Awaitable[None]],
        *,
        attempts: int | None = None,
        durable: bool = False,
        name: str | None = None,
    ) -> None:
        """`handler(event)` runs after the cause commits; `attempts` (default: the bus's) before
        the event is dead-lettered for it. A durable one runs once per event, through the outbox
        and the transport, also after a crash (`name` identifies it across processes)."""
        self._know(event_type)
        sub = Subscription(name or _name_of(handler), handler, attempts, durable)
        self._handlers[event_type].append(sub)

    def subscribe_in_transaction(
        self,
        event_type: type[E],
        handler: Callable[[AsyncSession, E], Awaitable[Sequence[Event]]],
        *,
        name: str | None = None,
        isolated: bool = True,
        when: Callable[[E], bool] | None = None,
    ) -> None:
        """`handler(session, event)` runs before the cause commits, in its transaction: in a
        savepoint of its own (`isolated`: a failure rolls back alone and is dead-lettered), or
        without one, where a failure must fail the cause (nothing of it commits). `when`: only
        for the events it accepts (the others skip it, savepoint and all)."""
        self._know(event_type)
        self._in_transaction[event_type].append(
            InTransaction(name or _name_of(handler), handler, isolated, when)
        )

    def subscribe_all(self, handler: Callable[[Event], Awaitable[None]]) -> None:
        """For bridges (WebSocket push, Redis fan-out) that forward every event."""
        self._any.append(Subscription(_name_of(handler), handler, None, durable=False))

    def event_class(self, name: str) -> type[Event] | None:
        return self._types.get(name)

    def durable(self, event_type: type[Event]) -> list[Subscription]:
        return [s for s in self._handlers.get(event_type, ()) if s.durable]

    def durable_event_names(self) -> list[str]:
        return sorted(k.name for k, subs in self._handlers.items() if any(s.durable for s in subs))

    def has_durable(self, event_type: type[Event]) -> bool:
        return any(s.durable for s in self._handlers.get(event_type, ()))

    def subscription(self, event_type: type[Event], name: str) -> Subscription | None:
        """The after-commit reaction `name` to `event_type`, durable or not (a retry by hand)."""
        subs: list[Subscription] = [*self._handlers.get(event_type, ()), *self._any]
        return next((sub for sub in subs if sub.name == name), None)

    def transactional(self, event_type: type[Event], name: str) -> TransactionalHandler | None:
        for reaction in self._in_transaction.get(event_type, ()):
            if reaction.name == name:
                return reaction.handler
        return None

    async def stage(self, session: AsyncSession, events: Sequence[Event]) -> list[Event]:
        """Run the in-transaction reactions to `events`; the caller commits afterwards, then
        publishes `events` and the follow-up events returned here.

        An isolated one runs in a savepoint: a failing reaction is rolled back alone, logged and
        dead-lettered, and never takes the cause (a stored reading, a raised alert) down with it.
        One that is not runs without (a SAVEPOINT and its RELEASE were two of the handoff round
        trip's ~30 statements each time, issue #16): its failure propagates and the cause's
        transaction is rolled back whole, as its caller does with any failure before commit.
        """
        follow: list[Event] = []
        for event in events:
            for handler_name, handler, isolated, when in self._in_transaction.get(type(event), ()):
                if when is not None and not when(event):
                    continue
                if not isolated:
                    follow.extend(await handler(session, event))
                    continue
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
                    letter = DeadLetter(
                        event=event,
                        handler=handler_name,
                        error=repr(exc),
                        stage=IN_TRANSACTION,
                        failure=describe_failure(exc),
                    )
                    await self.dead_lettered(letter)
                    if self.durability is not None:  # kept with the cause, in its transaction
                        await self.durability.dead_letter_in(session, letter)
        return follow

    async def publish(self, *events: Event) -> None:
        """Every after-commit reaction to `events`, here and now."""
        for event in events:
            for sub in (*self._handlers.get(type(event), ()), *self._any):
                await self._deliver(event, sub)

    async def publish_local(self, *events: Event) -> None:
        """The reactions that are not durable (the durable ones go through the transport)."""
        for event in events:
            for sub in (*self._handlers.get(type(event), ()), *self._any):
                if not sub.durable:
                    await self._deliver(event, sub)

    async def dead_lettered(self, letter: DeadLetter) -> None:
        self.dead_letters.append(letter)
        if self._dead_letter is not None:
            await self._dead_letter(letter)

    def failed(self, event: Event, handler_name: str, attempt: int, exc: BaseException) -> None:
        self._metrics.event_handler_failures.labels(event=event.name).inc()
        log.warning(
            "event handler failed",
            event_name=event.name,
            handler=handler_name,
            attempt=attempt,
            error=type(exc).__name__,
        )

    async def backoff(self, attempt: int) -> None:
        await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    async def _deliver(self, event: Event, sub: Subscription) -> None:
        attempts = sub.attempts or self.attempts
        for attempt in range(1, attempts + 1):
            try:
                await sub.handler(event)
                return
            except Exception as exc:  # noqa: BLE001 - every failure is retried, then dead-lettered
                self.failed(event, sub.name, attempt, exc)
                if attempt == attempts:
                    log.error("event dead-lettered", event_name=event.name, handler=sub.name)
                    letter = DeadLetter(
                        event=event,
                        handler=sub.name,
                        error=repr(exc),
                        failure=describe_failure(exc),
                        attempts=attempts,
                    )
                    await self.dead_lettered(letter)
                    if self.durability is not None:
                        await self.durability.dead_letter_direct(letter)
                    return
                await self.backoff(attempt)
