"""Moving committed events to their durable reactions (docs/durable-events.md).

`EventTransport` is the one interface: `InProcessTransport` (embedded profile: the process that
committed runs the reactions right after its commit, as the bus always did) and
`core.amqp.RabbitMqTransport` (scale profile: published with confirms, consumed by the worker
role from a durable queue with manual acks). The `Relay` around it, in every process:

- hands each commit's outbox rows to the transport at once (`committed`);
- every `relay_poll_seconds`: records what was relayed and which reactions ran (one small
  transaction, not one per event), relays rows a crash or a broker outage left behind (older
  than `relay_grace_seconds`), re-delivers dead letters a person asked to retry, and refreshes
  the unresolved dead letters gauge;
- hourly, drops relayed rows and delivery records past the retention.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.core import outbox
from emsync.core.background import Periodic
from emsync.core.delivery import EventDurability, RelayHook, Settled
from emsync.core.metrics import Metrics
from emsync.core.outbox import SealedEvent
from emsync.core.settings import EventSettings

log = structlog.get_logger("emsync.events")
BATCH = 200
PURGE_EVERY_SECONDS = 3600.0


class EventTransport(Protocol):
    async def start(self, *, consume: bool) -> None:
        """Connect; with `consume`, run this process's share of the durable reactions."""

    async def stop(self) -> None: ...

    async def publish(self, events: Sequence[SealedEvent], *, redelivery: bool) -> None:
        """Hand committed events over; returns once they are safe (run, or confirmed by the
        broker) and raises if they are not (they stay in the outbox)."""

    async def retry(self, event: SealedEvent, handler: str) -> None:
        """A dead letter's one reaction, again."""


class InProcessTransport:
    """Runs the reactions in the committing process, in the committing task (a request sees
    the drafts and recommendations its change caused once it returns, as before the outbox)."""

    def __init__(self, durability: EventDurability) -> None:
        self._durability = durability

    async def start(self, *, consume: bool) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, events: Sequence[SealedEvent], *, redelivery: bool) -> None:
        for event in events:
            await self._durability.deliver(event, redelivery=redelivery)

    async def retry(self, event: SealedEvent, handler: str) -> None:
        await self._durability.retry(event, handler)


class Relay(RelayHook):
    name = "event-relay"

    def __init__(
        self,
        durability: EventDurability,
        transport: EventTransport,
        *,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession],
        settings: EventSettings,
        metrics: Metrics,
    ) -> None:
        self.durability = durability
        self.transport = transport
        self.consume = True  # create_app: whether this process runs the worker role
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._settings = settings
        self._metrics = metrics
        self._inflight: set[str] = set()
        self._purged_at = 0.0
        self._round = asyncio.Lock()
        self._periodic = Periodic(
            self.name, lambda: settings.relay_poll_seconds, self.tick, first_round_now=True
        )
        durability.relay = self

    async def start(self) -> None:
        await self.transport.start(consume=self.consume)
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - unrecorded runs are redelivered and skipped
            log.error("delivery records not written at stop", error=type(exc).__name__)
        await self.transport.stop()

    async def committed(self, sealed: Sequence[SealedEvent]) -> None:
        ids = [e.event_id for e in sealed]
        self._inflight.update(ids)
        try:
            await self.transport.publish(sealed, redelivery=False)
        except Exception as exc:  # noqa: BLE001 - still in the outbox: the next round relays it
            log.error("events not relayed; kept in the outbox", error=type(exc).__name__)
            return
        finally:
            self._inflight.difference_update(ids)
        self.durability.settled.relayed.extend(ids)

    async def tick(self) -> None:
        async with self._round:  # one round at a time (the timer's, or a caller's)
            await self._tick()

    async def _tick(self) -> None:
        await self.flush()
        await self.catch_up()
        if self.consume:
            await self.retry_requested()
        async with self._read_sessions() as session:
            unresolved = await outbox.unresolved_count(session)
        self._metrics.event_dead_letters_unresolved.set(unresolved)
        if time.monotonic() - self._purged_at > PURGE_EVERY_SECONDS:
            self._purged_at = time.monotonic()
            async with self._sessions() as session:
                hours = self._settings.outbox_retention_hours
                await outbox.purge(session, older_than=timedelta(hours=hours))
                await session.commit()

    async def flush(self) -> None:
        """Record relayed rows and the runs of reactions without a transaction of their own."""
        settled, self.durability.settled = self.durability.settled, Settled()
        if not settled.relayed and not settled.runs:
            return
        try:
            async with self._sessions() as session:
                await outbox.settle(session, settled.relayed, settled.runs)
                await session.commit()
        except Exception:
            # Not recorded: relayed again and skipped by transactional reactions; try again.
            self.durability.settled.relayed.extend(settled.relayed)
            self.durability.settled.runs.extend(settled.runs)
            raise

    async def catch_up(self) -> int:
        """Relay what a crash or an outage left in the outbox; how many events."""
        grace = timedelta(seconds=self._settings.relay_grace_seconds)
        # Read, then relay outside that transaction: on SQLite a session that later writes
        # would hold the write lock the reactions need.
        async with self._read_sessions() as session:
            stale = await outbox.unrelayed(
                session, older_than=grace, limit=BATCH, skip=self._inflight
            )
        if not stale:
            return 0
        log.warning("relaying events left in the outbox", count=len(stale))
        await self.transport.publish(stale, redelivery=True)
        async with self._sessions() as session:
            await outbox.settle(session, [e.event_id for e in stale], [])
            await session.commit()
        return len(stale)

    async def retry_requested(self) -> int:
        async with self._read_sessions() as session:
            requested = await outbox.retries_requested(session, BATCH)
        for event, handler in requested:
            async with self._sessions() as session:
                taken = await outbox.take_retry_request(session, event.event_id, handler)
                await session.commit()
            if not taken:  # another relay (process) took it
                continue
            log.info("retrying a dead letter", event_type=event.event_type, handler=handler)
            await self.transport.retry(event, handler)
        return len(requested)
