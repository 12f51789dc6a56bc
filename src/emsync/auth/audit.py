"""Appending to and verifying the audit log. Appends are serialized so the chain never forks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.auth.chain import GENESIS, ChainedEntry, ChainReport, entry_hash, verify_chain
from emsync.auth.models import AuditEntry
from emsync.core.clock import Clock, as_utc

# Any constant works: it names the PostgreSQL advisory lock that serializes appends.
_AUDIT_LOCK_KEY = 0x454D5359


@dataclass(frozen=True, slots=True)
class AuditRecord:
    actor: str
    action: str
    target: str
    request_id: str
    outcome: str


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        # SQLite serializes writers itself, but two coroutines could read the same head first.
        self._lock = asyncio.Lock()

    async def append(self, record: AuditRecord) -> None:
        async with self._lock, self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY}
                )
            head = (
                await session.execute(
                    select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
                )
            ).first()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
            at = as_utc(self._clock())
            digest = entry_hash(
                seq=seq,
                at=at,
                actor=record.actor,
                action=record.action,
                target=record.target,
                request_id=record.request_id,
                outcome=record.outcome,
                prev_hash=prev,
            )
            session.add(
                AuditEntry(
                    seq=seq,
                    at=at,
                    actor=record.actor,
                    action=record.action,
                    target=record.target,
                    request_id=record.request_id,
                    outcome=record.outcome,
                    prev_hash=prev,
                    hash=digest,
                )
            )


async def list_entries(
    *,
    session: AsyncSession,
    limit: int,
    after_seq: int = 0,
    actor: str | None = None,
    since: datetime | None = None,
) -> Sequence[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    return (await session.scalars(stmt.order_by(AuditEntry.seq).limit(limit))).all()


async def verify(*, session: AsyncSession, batch: int = 5000) -> ChainReport:
    async def entries() -> list[ChainedEntry]:
        out: list[ChainedEntry] = []
        last = 0
        while True:
            rows = (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq > last)
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return out
            out.extend(
                ChainedEntry(
                    seq=r.seq,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    target=r.target,
                    request_id=r.request_id,
                    outcome=r.outcome,
                    prev_hash=r.prev_hash,
                    hash=r.hash,
                )
                for r in rows
            )
            last = rows[-1].seq

    return verify_chain(await entries())
