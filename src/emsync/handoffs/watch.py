"""The acknowledgement watch (worker role): a handoff the hospital has not acknowledged within
the configured time raises an alert to the dispatchers, once per sending."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs import service
from emsync.handoffs.events import HandoffAcknowledgementOverdue

log = structlog.get_logger("emsync.handoffs.watch")


class AcknowledgementWatch:
    name = "handoff-acknowledgement-watch"

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> list[HandoffAcknowledgementOverdue]:
        settings = self._runtime.settings.handoffs
        async with self._runtime.sessions() as session:
            return await service.raise_overdue(
                uow=UnitOfWork(session, self._runtime.bus),
                now=self._runtime.clock(),
                ack_timeout=timedelta(seconds=settings.ack_timeout_seconds),
            )

    async def _run(self) -> None:
        interval = self._runtime.settings.handoffs.ack_check_interval_seconds
        while True:
            try:
                await self.check_once()
            except Exception:
                log.exception("acknowledgement check failed; retrying next round")
            await asyncio.sleep(interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
