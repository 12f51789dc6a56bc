"""The audit writer: concurrent appends are chained in order and committed together, a cancelled
request is still audited, and a failed batch is reported to every request in it; on a SQLite file
through the engine's SQLiteWriter, not a pooled session."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from emsync.auth import audit
from emsync.auth.audit import AuditLog, AuditRecord
from emsync.auth.models import AuditEntry
from emsync.core.clock import utcnow
from emsync.core.db import create_engine, session_factory, sqlite_writer
from emsync.core.settings import Settings


def record(n: int) -> AuditRecord:
    return AuditRecord(
        actor=f"user:{n}", action="POST /api/x", target="{}", request_id=f"req-{n}", outcome="ok"
    )


class CountingSessions:
    """A session factory that counts the sessions (one per audit transaction) it opens."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, fail_first: int = 0):
        self.sessions = sessions
        self.opened = 0
        self.fail_first = fail_first

    def __call__(self) -> AsyncSession:
        self.opened += 1
        if self.opened <= self.fail_first:
            raise ConnectionError("database unavailable")
        return self.sessions()


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings)
    yield session_factory(engine)
    await engine.dispose()


async def logged(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
        return [r.request_id for r in rows]


async def test_concurrent_appends_share_one_transaction_and_keep_their_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    counting = CountingSessions(sessions)
    log = AuditLog(counting, utcnow)  # type: ignore[arg-type]
    await asyncio.gather(*(log.append(record(n)) for n in range(100)))
    assert counting.opened == 1
    await log.append(record(100))
    assert await logged(sessions) == [f"req-{n}" for n in range(101)]
    async with sessions() as session:
        report = await audit.verify(session=session)
    assert report.ok
    assert report.entries == 101


async def test_a_request_cancelled_while_waiting_is_still_audited(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    log = AuditLog(sessions, utcnow)
    waiting = asyncio.create_task(log.append(record(1)))
    await asyncio.sleep(0)
    waiting.cancel()
    await log.append(record(2))
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await logged(sessions) == ["req-1", "req-2"]


async def test_a_failed_batch_fails_every_request_in_it_and_the_next_batch_is_written(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    log = AuditLog(CountingSessions(sessions, fail_first=1), utcnow)  # type: ignore[arg-type]
    outcomes: list[Any] = await asyncio.gather(
        *(log.append(record(n)) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    await log.append(record(3))
    assert await logged(sessions) == ["req-3"]
    async with sessions() as session:
        assert (await audit.verify(session=session)).ok


# The SQLite writer's path only (PostgreSQL appends through a pooled session, tested above).
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def sqlite_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert settings.database_url.startswith("sqlite")
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@sqlite_only
async def test_on_a_sqlite_file_a_burst_is_written_on_the_writer_without_a_pooled_connection(
    sqlite_engine: AsyncEngine,
) -> None:
    """Each batch is one transaction on the engine's SQLiteWriter (the write gate held for one
    thread hand-off), never an aiosqlite session; every entry of a burst larger than a batch is
    there, in order, chained, with its time stored as the ORM stores it."""
    sessions = session_factory(sqlite_engine)
    writer = sqlite_writer(sqlite_engine)
    assert writer is not None
    checkouts: list[object] = []
    event.listen(sqlite_engine.sync_engine, "checkout", lambda *a: checkouts.append(a))
    log = AuditLog(sessions, utcnow, max_batch=64, writer=writer)
    await asyncio.gather(*(log.append(record(n)) for n in range(300)))
    await log.append(record(300))
    assert checkouts == []
    assert await logged(sessions) == [f"req-{n}" for n in range(301)]
    async with sessions() as session:
        report = await audit.verify(session=session)
        first = await session.scalar(select(AuditEntry).where(AuditEntry.seq == 1))
    assert report.ok
    assert report.entries == 301
    assert first is not None
    assert first.at.tzinfo is not None


@sqlite_only
async def test_on_the_sqlite_writer_a_failed_batch_fails_its_requests_and_the_next_is_written(
    sqlite_engine: AsyncEngine,
) -> None:
    sessions = session_factory(sqlite_engine)
    async with sqlite_engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TRIGGER refuse_bad BEFORE INSERT ON audit_log "
            "WHEN NEW.request_id = 'req-bad' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    log = AuditLog(sessions, utcnow, writer=sqlite_writer(sqlite_engine))
    bad = AuditRecord(
        actor="u", action="GET /api/x", target="{}", request_id="req-bad", outcome="ok"
    )
    outcomes = await asyncio.gather(log.append(record(1)), log.append(bad), return_exceptions=True)
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes)
    await log.append(record(2))
    assert await logged(sessions) == ["req-2"]
    async with sessions() as session:
        assert (await audit.verify(session=session)).ok
