"""The acknowledgement watch (worker role): a handoff the hospital has not acknowledged within
the configured time raises an alert to the dispatchers, once per sending."""

from __future__ import annotations

from datetime import timedelta

from emsync.core.background import Periodic
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs import service
from emsync.handoffs.events import HandoffAcknowledgementOverdue


class AcknowledgementWatch:
    name = "handoff-acknowledgement-watch"

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._periodic = Periodic(
            self.name,
            lambda: runtime.settings.handoffs.ack_check_interval_seconds,
            self.check_once,
            first_round_now=True,
        )

    async def check_once(self) -> list[HandoffAcknowledgementOverdue]:
        settings = self._runtime.settings.handoffs
        async with self._runtime.sessions() as session:
            return await service.raise_overdue(
                uow=UnitOfWork(session, self._runtime.bus),
                now=self._runtime.clock(),
                ack_timeout=timedelta(seconds=settings.ack_timeout_seconds),
            )

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
