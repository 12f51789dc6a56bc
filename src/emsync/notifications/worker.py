"""The worker role's notification loops: the escalation watch (fires due policy steps, writes
digests of what rate limits held back) and the delivery loop (claims due outbox rows, sends
them through their channel, records each attempt)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, exists, select

from emsync.core.events import Event
from emsync.core.runtime import Runtime
from emsync.notifications import digest, flood, outbox, steps
from emsync.notifications.channels import Accepted, Channel, DeliveryError
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.events import NotificationStatusChanged, PageEscalated
from emsync.notifications.metrics import NotificationMetrics

log = structlog.get_logger("emsync.notifications")


class NotificationWorker:
    name = "notifications.worker"

    def __init__(
        self,
        runtime: Runtime,
        *,
        channels: Mapping[ChannelKind, Channel],
        keys: outbox.Keys,
        metrics: NotificationMetrics,
    ) -> None:
        self._rt = runtime
        self._channels = dict(channels)
        self._keys = keys
        self._metrics = metrics
        settings = runtime.settings.notifications
        self._settings = settings
        self._links = outbox.Links(settings.public_url)
        self._limits = flood.Limits(
            per_user=settings.rate_per_user, per_channel=dict(settings.rate_per_channel)
        )
        self._wakes = (asyncio.Event(), asyncio.Event())
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """A page opened or something was queued in this process: act now, not at the next poll."""
        for event in self._wakes:
            event.set()

    async def start(self) -> None:
        # Two loops: a provider that is slow to answer must not hold back the next escalation.
        self._stopping = asyncio.Event()
        self._wakes = (asyncio.Event(), asyncio.Event())
        self._tasks = [
            asyncio.create_task(self._loop(self.escalate_once, self._wakes[0]), name="notify-esc"),
            asyncio.create_task(self._loop(self.deliver_once, self._wakes[1]), name="notify-send"),
        ]

    async def stop(self) -> None:
        # The round in progress finishes (a cancelled database call would outlive the loop).
        self._stopping.set()
        self.wake()
        for task in self._tasks:
            await task
        self._tasks = []
        for channel in self._channels.values():
            await channel.close()

    async def _loop(self, round_: Callable[[], Awaitable[int]], wake: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):  # the first round after one poll, as after each
            await asyncio.wait_for(wake.wait(), timeout=self._settings.poll_seconds)
        wake.clear()
        while not self._stopping.is_set():
            try:
                busy = await round_() >= self._settings.batch_size
            except Exception as exc:  # noqa: BLE001 - logged; the next round runs
                log.error("notification round failed", error=type(exc).__name__)
                busy = False
            if busy:
                continue  # more is due: no pause
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self._settings.poll_seconds)
            wake.clear()

    async def escalate_once(self) -> int:
        """Fire due steps and write due digests; returns how many steps fired."""
        rt, s = self._rt, self._settings
        now = rt.clock()
        window = timedelta(seconds=s.rate_window_seconds)
        if not await self._any(steps.due(now), digest.due(now, window)):
            self._metrics.escalation_rounds.inc()
            return 0
        async with rt.sessions() as session:
            events: list[Event] = await steps.advance_due(
                session=session,
                keyring=rt.keyring,
                keys=self._keys,
                link_lifetime=timedelta(hours=s.ack_link_hours),
                now=now,
            )
            events += await digest.write_due(
                session=session, keyring=rt.keyring, window=window, now=now
            )
            await session.commit()
        self._metrics.escalation_rounds.inc()
        await self._publish(events)
        fired = [e for e in events if isinstance(e, PageEscalated)]
        if events and s.wake_on_page:
            self._wakes[1].set()  # new outbox rows: deliver them now
        return len(fired)

    async def deliver_once(self) -> int:
        """Claim what is due, send it, record the outcomes; returns how many were claimed."""
        rt, s = self._rt, self._settings
        now = rt.clock()
        if not await self._any(outbox.due(now)):
            return 0
        async with rt.sessions() as session:
            claimed, events = await outbox.claim_due(
                session=session,
                keyring=rt.keyring,
                keys=self._keys,
                links=self._links,
                limits=self._limits,
                window=timedelta(seconds=s.rate_window_seconds),
                lease=timedelta(seconds=s.lease_seconds),
                limit=s.batch_size,
                now=now,
            )
            await session.commit()
        await self._publish(events)
        if not claimed:
            return len(events)
        gate = asyncio.Semaphore(s.concurrency)

        async def send(item: outbox.Claimed) -> outbox.Outcome:
            async with gate:
                return await self._send(item)

        outcomes = await asyncio.gather(*(send(c) for c in claimed))
        async with rt.sessions() as session:
            recorded = await outbox.record(
                session=session,
                outcomes=outcomes,
                max_attempts=s.max_attempts,
                retry_base=s.retry_base_seconds,
                retry_cap=s.retry_max_seconds,
                now=rt.clock(),
            )
            await session.commit()
        await self._publish(recorded)
        return len(claimed) + len(events)

    async def _any(self, *due: ColumnElement[bool]) -> bool:
        """Whether a round has anything to do, asked in a read-only session: an idle round (the
        usual one, every poll) then takes no write transaction, which on SQLite would queue for
        the process's one write lock ahead of the telemetry ingest and the API's writes."""
        async with self._rt.read_sessions() as session:
            for clause in due:
                if await session.scalar(select(exists().where(clause))):
                    return True
        return False

    async def _send(self, item: outbox.Claimed) -> outbox.Outcome:
        message = item.outgoing
        started: datetime = self._rt.clock()
        begin = time.perf_counter()
        channel = self._channels.get(message.channel)
        result: Accepted | DeliveryError
        if channel is None:
            result = DeliveryError(
                f"the {message.channel.value} channel is not configured", permanent=True
            )
        else:
            try:
                result = await asyncio.wait_for(
                    channel.send(message), timeout=self._settings.send_timeout_seconds
                )
            except TimeoutError:
                result = DeliveryError("the provider did not answer in time")
            except DeliveryError as exc:
                result = exc
            except Exception as exc:  # noqa: BLE001 - a channel bug is a failed attempt, retried
                log.error("channel raised", channel=message.channel.value, error=type(exc).__name__)
                result = DeliveryError(f"internal error: {type(exc).__name__}")
        elapsed = time.perf_counter() - begin
        self._metrics.send_seconds.labels(channel=message.channel.value).observe(elapsed)
        if isinstance(result, DeliveryError):
            log.warning(
                "notification attempt failed",
                notification_id=message.notification_id,
                channel=message.channel.value,
                permanent=result.permanent,
                detail=result.detail,
            )
        return outbox.Outcome(
            notification_id=message.notification_id,
            result=result,
            started=started,
            duration_ms=round(elapsed * 1000),
        )

    async def _publish(self, events: list[Event] | list[NotificationStatusChanged]) -> None:
        for event in events:
            if isinstance(event, NotificationStatusChanged):
                label = {"queued": "retried"}.get(event.status, event.status)
                self._metrics.outcomes.labels(channel=event.channel, outcome=label).inc()
        await self._rt.bus.publish(*events)
