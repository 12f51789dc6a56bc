"""Durable delivery of domain events (docs/durable-events.md): outbox rows written in the cause's
transaction, handed to a transport after the commit, each durable reaction run once per event.

Exactly once: the runner sets `CLAIM` (event id, handler) around a reaction; the first
`UnitOfWork.commit` inside it inserts the (event, handler) row of `event_deliveries` in that same
transaction (`claim`). A redelivered event (a crash after the reaction committed, before the
transport's acknowledgement) either finds the row and skips the reaction, or, racing another
delivery, fails to insert it and rolls back (`AlreadyDelivered`). A reaction that commits no
transaction of its own (a push, a read) is recorded after it ran: at least once, so its side
effects carry the event id.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.core import outbox
from emsync.core.crypto import Keyring
from emsync.core.events import (
    AFTER_COMMIT,
    DeadLetter,
    Event,
    EventBus,
    Subscription,
    decode,
    describe_failure,
    encode,
)
from emsync.core.ids import new_id
from emsync.core.outbox import SealedEvent

log = structlog.get_logger("emsync.events")


class AlreadyDelivered(Exception):
    """The reaction already committed its transaction for this event: this run rolled back."""


@dataclass
class Claim:
    event_id: str
    handler: str
    claimed: bool = False  # a transaction of the reaction inserted the delivery row
    duplicate: bool = False  # ...or found it there: the reaction had run
    closed: bool = False  # the reaction returned; tasks it left behind claim nothing


CLAIM: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("emsync_claim", default=None)


async def claim(session: AsyncSession) -> None:
    """Called by `UnitOfWork.commit` before anything else: joins the running reaction's delivery
    record to this transaction (the first one the reaction commits)."""
    current = CLAIM.get()
    if current is None or current.claimed or current.closed:
        return
    if await outbox.claim_delivery(session, current.event_id, current.handler):
        current.claimed = True
        return
    current.duplicate = True
    await session.rollback()
    raise AlreadyDelivered(f"{current.handler} already ran for event {current.event_id}")


@dataclass
class Settled:
    """What the relay writes in one transaction later (core.transport.Relay.flush)."""

    relayed: list[str] = field(default_factory=list)
    runs: list[tuple[str, str]] = field(default_factory=list)


class EventDurability:
    """The bus's `Durability`: seals and stores events, runs durable reactions exactly once,
    persists dead letters. The transport (core.transport) moves sealed events between them."""

    def __init__(
        self,
        bus: EventBus,
        keyring: Keyring,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.bus = bus
        self.keyring = keyring
        self.sessions = sessions
        self.settled = Settled()
        # Set by the relay: what to do with committed events (deliver here, or to a broker).
        self.relay: RelayHook | None = None
        # The events of the commit being handed over, by id, as their unit of work had them:
        # delivered in this process and task (InProcessTransport), they are not opened and
        # decoded again from the payload sealed a moment before (issue #16 item 2: ~1 % of
        # the handoff round trip's loop CPU). Only for the length of `after_commit`.
        self._in_hand: dict[str, Event] = {}

    # ---- the unit of work's side ----------------------------------------------------------
    async def claim(self, session: AsyncSession) -> None:
        await claim(session)

    async def before_commit(self, session: AsyncSession, events: Sequence[Event]) -> object:
        staged = [(self.seal(e), e) for e in events if self.bus.has_durable(type(e))]
        if staged:
            await outbox.add(session, [sealed for sealed, _ in staged])
        return staged

    async def after_commit(self, staged: object) -> None:
        pairs: list[tuple[SealedEvent, Event]] = staged  # type: ignore[assignment]
        if not pairs or self.relay is None:
            return
        for sealed, event in pairs:
            self._in_hand[sealed.event_id] = event
        try:
            await self.relay.committed([sealed for sealed, _ in pairs])
        finally:
            for sealed, _ in pairs:
                self._in_hand.pop(sealed.event_id, None)

    async def dead_letter_in(self, session: AsyncSession, letter: DeadLetter) -> None:
        await outbox.record_dead_letter(
            session,
            self.seal(letter.event),
            handler=letter.handler,
            stage=letter.stage,
            error=letter.failure,
            attempts=letter.attempts,
        )

    def seal(self, event: Event, event_id: str | None = None) -> SealedEvent:
        return outbox.seal(self.keyring, event_id or new_id(), event.name, encode(event))

    def open(self, sealed: SealedEvent) -> Event | None:
        in_hand = self._in_hand.get(sealed.event_id)
        if in_hand is not None and in_hand.name == sealed.event_type:
            return in_hand
        kind = self.bus.event_class(sealed.event_type)
        if kind is None:  # an event no reaction of this version knows: nothing to run
            log.warning("event of unknown type skipped", event_type=sealed.event_type)
            return None
        return decode(kind, outbox.open_payload(self.keyring, sealed))

    # ---- the transport's side -------------------------------------------------------------
    async def deliver(self, sealed: SealedEvent, *, redelivery: bool) -> None:
        """Every durable reaction to the event, in table order, each at most once per event id
        (`redelivery`: look for delivery records first; a fresh event has none)."""
        event = self.open(sealed)
        if event is None:
            return
        for sub in self.bus.durable(type(event)):
            if redelivery and await self._delivered(sealed.event_id, sub.name):
                continue
            await self.run(sealed, event, sub)

    async def retry(self, sealed: SealedEvent, handler: str) -> None:
        """A dead letter a person asked to retry: its one reaction, again."""
        event = self.open(sealed)
        if event is None:
            return
        sub = self.bus.subscription(type(event), handler)
        if sub is not None:
            if await self._delivered(sealed.event_id, handler):
                await self._resolve(sealed.event_id, handler)
                return
            if await self.run(sealed, event, sub):
                await self._resolve(sealed.event_id, handler)
            return
        transactional = self.bus.transactional(type(event), handler)
        if transactional is None:
            log.error("dead letter names no reaction of this version", handler=handler)
            return
        if await self._run_transactional(sealed, event, handler, transactional):
            await self._resolve(sealed.event_id, handler)

    async def run(self, sealed: SealedEvent, event: Event, sub: Subscription) -> bool:
        """One reaction with its retries; True once it ran (or had), False if dead-lettered."""
        attempts = sub.attempts or self.bus.attempts
        for attempt in range(1, attempts + 1):
            current = Claim(sealed.event_id, sub.name)
            token = CLAIM.set(current)
            try:
                await sub.handler(event)
            except Exception as exc:  # noqa: BLE001 - retried, then dead-lettered
                if current.duplicate or isinstance(exc, AlreadyDelivered):
                    return True
                if current.claimed:
                    # Its transaction committed, so a rerun would skip it: what failed after
                    # is dead-lettered for a person to look at, not retried blindly.
                    attempt = attempts
                self.bus.failed(event, sub.name, attempt, exc)
                if attempt == attempts:
                    await self._dead_letter(sealed, event, sub.name, exc, attempts)
                    return False
                await self.bus.backoff(attempt)
                continue
            finally:
                current.closed = True
                CLAIM.reset(token)
            if not current.claimed:
                self.settled.runs.append((sealed.event_id, sub.name))
            return True
        return False

    async def _run_transactional(
        self, sealed: SealedEvent, event: Event, name: str, handler: object
    ) -> bool:
        """A retried in-transaction reaction runs in a transaction of its own (its cause has
        long committed); the events it returns go out like any unit of work's."""
        from emsync.core.uow import UnitOfWork

        async with self.sessions() as session:
            uow = UnitOfWork(session, self.bus)
            try:
                uow.record(*await handler(session, event))  # type: ignore[operator]
                await uow.commit()
            except Exception as exc:  # noqa: BLE001 - stays a dead letter, updated
                await session.rollback()
                self.bus.failed(event, name, 1, exc)
                await self._dead_letter(sealed, event, name, exc, 1)
                return False
        return True

    async def _dead_letter(
        self, sealed: SealedEvent, event: Event, handler: str, exc: Exception, attempts: int
    ) -> None:
        log.error("event dead-lettered", event_name=event.name, handler=handler)
        letter = DeadLetter(
            event=event,
            handler=handler,
            error=repr(exc),
            stage=AFTER_COMMIT,
            failure=describe_failure(exc),
            attempts=attempts,
        )
        async with self.sessions() as session:
            await outbox.record_dead_letter(
                session,
                sealed,
                handler=handler,
                stage=AFTER_COMMIT,
                error=letter.failure,
                attempts=attempts,
            )
            await session.commit()
        await self.bus.dead_lettered(letter)

    async def dead_letter_direct(self, letter: DeadLetter) -> None:
        """A dead letter of the in-process path (`bus.publish`, no outbox row): kept all the same,
        so a person can retry it."""
        if letter.stage != AFTER_COMMIT:
            return  # in-transaction ones are kept in their cause's transaction
        async with self.sessions() as session:
            await outbox.record_dead_letter(
                session,
                self.seal(letter.event),
                handler=letter.handler,
                stage=letter.stage,
                error=letter.failure,
                attempts=letter.attempts,
            )
            await session.commit()

    async def _delivered(self, event_id: str, handler: str) -> bool:
        async with self.sessions() as session:
            return await outbox.delivered(session, event_id, handler)

    async def _resolve(self, event_id: str, handler: str) -> None:
        async with self.sessions() as session:
            await outbox.resolve_dead_letter(session, event_id, handler)
            await session.commit()


class RelayHook:
    """What the durability hands committed events to (core.transport.Relay)."""

    async def committed(self, sealed: Sequence[SealedEvent]) -> None:
        raise NotImplementedError
