"""Unit of work: one session plus the events its changes caused: their in-transaction
reactions run before the commit, the others after it."""

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
        follow = await self.bus.stage(self.session, self._pending)
        await self.session.commit()
        events, self._pending = self._pending, []
        await self.bus.publish(*events, *follow)

    async def rollback(self) -> None:
        self._pending.clear()
        await self.session.rollback()
