"""Watches of the worker role: a handoff the hospital has not acknowledged within the configured
time raises an alert to the dispatchers, once per sending; a handoff en route carries the
patient's newest monitor reading to the hospital, at most once per configured interval."""

from __future__ import annotations

from datetime import timedelta

from emsync.core.background import Periodic
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs import signs, transitions, updates
from emsync.handoffs.events import HandoffAcknowledgementOverdue
from emsync.telemetry.public import recent_vitals


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
            return await transitions.raise_overdue(
                uow=UnitOfWork(session, self._runtime.bus),
                now=self._runtime.clock(),
                ack_timeout=timedelta(seconds=settings.ack_timeout_seconds),
            )

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


class VitalsFollow:
    """Appends the newest stored monitor reading to each en-route handoff as a vitals update,
    at most once per `handoffs.vitals_update_seconds` per handoff (0: never).

    A round reads storage rather than reacting to each ingest batch: its cost follows the
    handoffs en route, not a 1 Hz flood of readings, and it adds nothing to ingest's hot path.
    Rounds run every few seconds, so an update follows a due reading with that much delay.
    """

    name = "handoff-vitals-follow"
    ROUND_SECONDS = 5.0
    READINGS = 20  # the newest few: the newest usable one among them is sent

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._periodic = Periodic(
            self.name,
            lambda: min(self.ROUND_SECONDS, self._interval().total_seconds() or self.ROUND_SECONDS),
            self.check_once,
        )

    def _interval(self) -> timedelta:
        return timedelta(seconds=self._runtime.settings.handoffs.vitals_update_seconds)

    async def check_once(self) -> int:
        """One round; returns how many updates it appended."""
        interval = self._interval()
        if interval <= timedelta(0):
            return 0
        runtime = self._runtime
        now = runtime.clock()
        async with runtime.sessions() as session:
            patients = await updates.patients_due_vitals(
                session=session, min_interval=interval, now=now
            )
        appended = 0
        for patient_id in patients:  # one short transaction per patient: locks held briefly
            async with runtime.sessions() as session:
                readings = await recent_vitals(
                    session=session,
                    keyring=runtime.keyring,
                    patient_id=patient_id,
                    since=now - signs.WINDOW,
                    limit=self.READINGS,
                )
                appended += await updates.append_telemetry_vitals(
                    uow=UnitOfWork(session, runtime.bus),
                    keyring=runtime.keyring,
                    patient_id=patient_id,
                    readings=readings,
                    min_interval=interval,
                    now=now,
                )
        return appended

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
