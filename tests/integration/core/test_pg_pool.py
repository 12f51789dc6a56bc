"""PostgreSQL connections as core.db hands them out: a read-only session runs each statement on
its own (no BEGIN ... ROLLBACK around it) and refuses a locking read, a writing session still
runs in one transaction, and a pooled connection the server has ended is replaced before use
rather than failing a request (without pinging the server on every checkout)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.db import (
    ReadOnlySessionWrite,
    create_engine,
    read_session_factory,
    session_factory,
    transaction,
)
from emsync.core.settings import Settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

XACT = text("SELECT pg_current_xact_id()::text")
BACKEND = text("SELECT pg_backend_pid()")
ENDED_OTHERS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid = ANY(:pids)"
)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def test_a_read_only_session_runs_each_statement_on_its_own(engine: AsyncEngine) -> None:
    async with read_session_factory(engine)() as session:
        first = await session.scalar(XACT)
        second = await session.scalar(XACT)
    assert first != second  # two transactions: no BEGIN was sent before the first


async def test_a_writing_session_is_one_transaction(engine: AsyncEngine) -> None:
    async with transaction(session_factory(engine)) as session:
        first = await session.scalar(XACT)
        second = await session.scalar(XACT)
    assert first == second


async def test_a_connection_the_server_ended_is_replaced_before_use(
    engine: AsyncEngine, settings: Settings
) -> None:
    reads = read_session_factory(engine)
    async with reads() as session:
        before = await session.scalar(BACKEND)  # now idle in the pool
    observer = create_engine(settings)
    try:
        async with observer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            # Gone once the server lists it no more (it closed the socket before exiting).
            while await conn.scalar(ENDED_OTHERS, {"pids": [before]}):
                pass
    finally:
        await observer.dispose()
    async with reads() as session:
        after = await session.scalar(BACKEND)
    assert after is not None
    assert after != before


async def test_a_read_only_session_refuses_a_locking_read(engine: AsyncEngine) -> None:
    # In autocommit the lock would end with the statement: a writer's session must take it.
    with pytest.raises(ReadOnlySessionWrite):
        async with read_session_factory(engine)() as session:
            await session.execute(text("SELECT 1 FROM handoff_feeds FOR UPDATE"))
