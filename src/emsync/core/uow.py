"""Unit of work: one session plus the events its changes caused: their in-transaction
reactions run before the commit, the others after it.

With a durable bus (core.delivery), the commit also writes the events that have durable
reactions to the outbox, and, inside a durable reaction, the reaction's delivery record: both in
this transaction (docs/durable-events.md).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.events import Event, EventBus


class UnitOfWork:
    def __init__(self, session: AsyncSession, bus: EventBus) -> None:
        self.session = session
        self.bus = bus
        self._pending: list[Event] = []

    def record(self, *events: Event) -> None:
        self._pending.extend(events)

    async def commit(self) -> None:
        durability = self.bus.durability
        if durability is None:
            follow = await self.bus.stage(self.session, self._pending)
            await self.session.commit()
            events, self._pending = [*self._pending, *follow], []
            await self.bus.publish(*events)
            return
        # Before anything else: a reaction that already ran for this event must not write again.
        await durability.claim(self.session)
        follow = await self.bus.stage(self.session, self._pending)
        events = [*self._pending, *follow]
        staged = await durability.before_commit(self.session, events)
        await self.session.commit()
        self._pending = []
        await self.bus.publish_local(*events)
        await durability.after_commit(staged)

    async def rollback(self) -> None:
        self._pending.clear()
        await self.session.rollback()
