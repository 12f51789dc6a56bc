"""The worker role's scheduled checks: stale devices, alert escalation, open-alert gauges."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from emsync.core.runtime import Runtime
from emsync.telemetry import service
from emsync.telemetry.metrics import TelemetryMetrics

log = structlog.get_logger("emsync.telemetry.watch")


class AlertWatch:
    name = "telemetry.alert_watch"

    def __init__(self, runtime: Runtime, metrics: TelemetryMetrics) -> None:
        self._runtime = runtime
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telemetry-alert-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        interval = self._runtime.settings.telemetry.watch_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed round is logged; the next one runs
                log.error("alert watch round failed", error=type(exc).__name__)

    async def tick(self) -> None:
        """One round: stale-data alerts, escalations, gauges; events published after commit."""
        rt = self._runtime
        tel = rt.settings.telemetry
        now = rt.clock()
        ack_timeout = timedelta(seconds=tel.ack_timeout_seconds)
        async with rt.sessions() as session:
            events = await service.check_stale_devices(
                session=session,
                stale_after=timedelta(seconds=tel.stale_after_seconds),
                ack_timeout=ack_timeout,
                now=now,
            )
            events += await service.escalate_overdue(
                session=session, roles=tel.escalation_roles, ack_timeout=ack_timeout, now=now
            )
            await session.commit()
            counts = await service.open_alert_counts(session=session)
        await rt.bus.publish(*events)
        for level in ("low", "low-medium", "medium", "high", "stale"):
            self._metrics.open_alerts.labels(level=level).set(counts.get(level, 0))
