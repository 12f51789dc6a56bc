"""The tables behind durable events (docs/durable-events.md) and the statements that use them.

- `event_outbox`: one row per event that has a durable reaction, inserted in the transaction of
  the change that caused it (`UnitOfWork.commit`); `relayed_at` once the transport took it.
- `event_deliveries`: one row per (event, handler) run, inserted in the handler's transaction
  when it commits one (`UnitOfWork.commit` again): a redelivered event skips that handler.
- `event_dead_letters`: a handler that failed every attempt, kept until a person retries it
  (`emsync events dead-letters list|retry`).

Payloads are sealed under the master keyring (bound to the event id and type): events carry ids
and clinical facts (priorities, scores) that are at rest here and in the broker's queues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.crypto import Keyring
from emsync.core.db import Base, execute_held_back, insert_ignoring_conflicts

BigId = BigInteger().with_variant(Integer(), "sqlite")


def now() -> datetime:
    # Wall-clock time, not the app's clock: these rows are about the process's own work (what to
    # relay, what is stale), and tests freeze the app's clock.
    return datetime.now(UTC)


class OutboxRow(Base):
    __tablename__ = "event_outbox"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(100))
    payload_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    relayed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_event_outbox_relayed_at", "relayed_at"),)


_INSERT_OUTBOX = insert(cast(Table, OutboxRow.__table__))


class DeliveryRow(Base):
    __tablename__ = "event_deliveries"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    delivered_at: Mapped[datetime] = mapped_column(index=True)


class DeadLetterRow(Base):
    __tablename__ = "event_dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(100))
    payload_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    handler: Mapped[str] = mapped_column(String(200), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    # The exception's type and where it was raised: never its message, which may quote values.
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    retry_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None, index=True)

    __table_args__ = (UniqueConstraint("event_id", "handler"),)


@dataclass(frozen=True, slots=True)
class SealedEvent:
    """An event as it travels: its id, type name and sealed JSON payload."""

    event_id: str
    event_type: str
    payload_sealed: bytes


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    id: int
    event_id: str
    event_type: str
    handler: str
    stage: str
    error: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    retry_requested_at: datetime | None


def _aad(event_id: str, event_type: str) -> bytes:
    return f"event:{event_type}:{event_id}".encode()


def seal(keyring: Keyring, event_id: str, event_type: str, payload: bytes) -> SealedEvent:
    sealed = keyring.seal(payload, aad=_aad(event_id, event_type))
    return SealedEvent(event_id=event_id, event_type=event_type, payload_sealed=sealed)


def open_payload(keyring: Keyring, event: SealedEvent) -> bytes:
    return keyring.open(event.payload_sealed, aad=_aad(event.event_id, event.event_type))


async def add(session: AsyncSession, events: Sequence[SealedEvent]) -> None:
    """In the cause's transaction: committed with it or not at all. A Core INSERT on the
    session's connection, not ORM rows: every unit of work with a durable event paid a
    unit-of-work flush at its commit for this one append-only row (issue #16)."""
    at = now()
    rows = [
        {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "payload_sealed": e.payload_sealed,
            "created_at": at,
        }
        for e in events
    ]
    if rows:
        conn = await session.connection()
        # Held back on SQLite until the commit (append-only: nothing reads its outcome).
        await execute_held_back(conn, _INSERT_OUTBOX, rows[0] if len(rows) == 1 else rows)


async def claim_delivery(session: AsyncSession, event_id: str, handler: str) -> bool:
    """Insert the (event, handler) row in the handler's transaction; False if it exists (the
    handler already ran for this event: its transaction must not commit again)."""
    bind = session.get_bind()
    statement = insert_ignoring_conflicts(DeliveryRow.__table__, bind.dialect.name)  # type: ignore[arg-type]
    result = await session.execute(
        statement.values(event_id=event_id, handler=handler, delivered_at=now())
    )
    return bool(getattr(result, "rowcount", 1))


async def delivered(session: AsyncSession, event_id: str, handler: str) -> bool:
    found = await session.scalar(
        select(DeliveryRow.event_id).where(
            DeliveryRow.event_id == event_id, DeliveryRow.handler == handler
        )
    )
    return found is not None


async def settle(
    session: AsyncSession, relayed: Sequence[str], runs: Sequence[tuple[str, str]]
) -> None:
    """Mark outbox rows relayed and record the runs of handlers that committed no transaction
    of their own (their delivery is at least once; their side effects carry the event id)."""
    at = now()
    if relayed:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.event_id.in_(relayed), OutboxRow.relayed_at.is_(None))
            .values(relayed_at=at)
        )
    if runs:
        statement = insert_ignoring_conflicts(
            DeliveryRow.__table__,  # type: ignore[arg-type]
            session.get_bind().dialect.name,
        )
        await session.execute(
            statement,
            [{"event_id": e, "handler": h, "delivered_at": at} for e, h in runs],
        )


async def unrelayed(
    session: AsyncSession, *, older_than: timedelta, limit: int, skip: set[str]
) -> list[SealedEvent]:
    """Committed rows no transport took (a crash between commit and relay, a broker outage),
    oldest first. Not locked: two relays may both take a row, and the delivery records make
    the second delivery skip what the first ran."""
    rows = await session.scalars(
        select(OutboxRow)
        .where(OutboxRow.relayed_at.is_(None), OutboxRow.created_at < now() - older_than)
        .order_by(OutboxRow.seq)
        .limit(limit)
    )
    return [
        SealedEvent(r.event_id, r.event_type, r.payload_sealed)
        for r in rows
        if r.event_id not in skip
    ]


async def purge(session: AsyncSession, *, older_than: timedelta) -> None:
    """Relayed rows and delivery records past the retention: no redelivery reaches back that far."""
    cutoff = now() - older_than
    await session.execute(
        delete(OutboxRow).where(OutboxRow.relayed_at.is_not(None), OutboxRow.relayed_at < cutoff)
    )
    await session.execute(delete(DeliveryRow).where(DeliveryRow.delivered_at < cutoff))


async def record_dead_letter(
    session: AsyncSession,
    event: SealedEvent,
    *,
    handler: str,
    stage: str,
    error: str,
    attempts: int,
) -> None:
    """One row per (event, handler): failing again after a retry updates it."""
    at = now()
    existing = await session.scalar(
        select(DeadLetterRow).where(
            DeadLetterRow.event_id == event.event_id, DeadLetterRow.handler == handler
        )
    )
    if existing is None:
        session.add(
            DeadLetterRow(
                event_id=event.event_id,
                event_type=event.event_type,
                payload_sealed=event.payload_sealed,
                handler=handler,
                stage=stage,
                error=error,
                attempts=attempts,
                first_failed_at=at,
                last_failed_at=at,
            )
        )
        return
    existing.error = error
    existing.attempts += attempts
    existing.last_failed_at = at
    existing.retry_requested_at = None
    existing.resolved_at = None


async def resolve_dead_letter(session: AsyncSession, event_id: str, handler: str) -> None:
    await session.execute(
        update(DeadLetterRow)
        .where(
            DeadLetterRow.event_id == event_id,
            DeadLetterRow.handler == handler,
            DeadLetterRow.resolved_at.is_(None),
        )
        .values(resolved_at=now(), retry_requested_at=None)
    )


async def dead_letters(
    session: AsyncSession, *, handler: str | None = None
) -> list[DeadLetterView]:
    """Unresolved dead letters, oldest first."""
    query = select(DeadLetterRow).where(DeadLetterRow.resolved_at.is_(None))
    if handler is not None:
        query = query.where(DeadLetterRow.handler == handler)
    rows = await session.scalars(query.order_by(DeadLetterRow.id))
    return [
        DeadLetterView(
            id=r.id,
            event_id=r.event_id,
            event_type=r.event_type,
            handler=r.handler,
            stage=r.stage,
            error=r.error,
            attempts=r.attempts,
            first_failed_at=r.first_failed_at,
            last_failed_at=r.last_failed_at,
            retry_requested_at=r.retry_requested_at,
        )
        for r in rows
    ]


async def request_retry(session: AsyncSession, ids: Sequence[int] | None) -> list[int]:
    """Mark dead letters (all unresolved ones when `ids` is None) for the relay to re-deliver to
    their handler; the ids actually marked."""
    query = select(DeadLetterRow.id).where(DeadLetterRow.resolved_at.is_(None))
    if ids is not None:
        query = query.where(DeadLetterRow.id.in_(ids))
    marked = list(await session.scalars(query))
    if marked:
        await session.execute(
            update(DeadLetterRow)
            .where(DeadLetterRow.id.in_(marked))
            .values(retry_requested_at=now())
        )
    return marked


async def retries_requested(session: AsyncSession, limit: int) -> list[tuple[SealedEvent, str]]:
    rows = await session.scalars(
        select(DeadLetterRow)
        .where(DeadLetterRow.retry_requested_at.is_not(None), DeadLetterRow.resolved_at.is_(None))
        .order_by(DeadLetterRow.id)
        .limit(limit)
    )
    return [(SealedEvent(r.event_id, r.event_type, r.payload_sealed), r.handler) for r in rows]


async def take_retry_request(session: AsyncSession, event_id: str, handler: str) -> bool:
    """Clear the request; True for the one relay that cleared it (it re-delivers)."""
    result = await session.execute(
        update(DeadLetterRow)
        .where(
            DeadLetterRow.event_id == event_id,
            DeadLetterRow.handler == handler,
            DeadLetterRow.retry_requested_at.is_not(None),
        )
        .values(retry_requested_at=None)
    )
    return bool(getattr(result, "rowcount", 0))


async def unresolved_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(DeadLetterRow).where(DeadLetterRow.resolved_at.is_(None))
    )
    return int(count or 0)
