"""The worker role's scheduled checks: stale devices and open-alert gauges. Escalating an
unacknowledged alert is the notifications domain's escalation policy."""

from __future__ import annotations

from datetime import timedelta

from emsync.core.background import Periodic
from emsync.core.runtime import Runtime
from emsync.telemetry import alerting
from emsync.telemetry.metrics import TelemetryMetrics


class AlertWatch:
    name = "telemetry.alert_watch"

    def __init__(self, runtime: Runtime, metrics: TelemetryMetrics) -> None:
        self._runtime = runtime
        self._metrics = metrics
        self._periodic = Periodic(
            "telemetry-alert-watch",
            lambda: runtime.settings.telemetry.watch_interval_seconds,
            self.tick,
        )

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def tick(self) -> None:
        """One round: stale-data alerts and gauges; events published after commit."""
        rt = self._runtime
        tel = rt.settings.telemetry
        now = rt.clock()
        ack_timeout = timedelta(seconds=tel.ack_timeout_seconds)
        async with rt.sessions() as session:
            events = await alerting.check_stale_devices(
                session=session,
                stale_after=timedelta(seconds=tel.stale_after_seconds),
                ack_timeout=ack_timeout,
                now=now,
            )
            follow = await rt.bus.stage(session, events)  # pages open with their alerts
            await session.commit()
            counts = await alerting.open_alert_counts(session=session)
            waiting = await alerting.unacknowledged_alert_counts(session=session)
        await rt.bus.publish(*events, *follow)
        for level in ("low", "low-medium", "medium", "high", "stale"):
            self._metrics.open_alerts.labels(level=level).set(counts.get(level, 0))
            self._metrics.unacknowledged_alerts.labels(level=level).set(waiting.get(level, 0))
