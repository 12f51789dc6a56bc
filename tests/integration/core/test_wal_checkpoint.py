"""The WAL is copied back into the database file by the background checkpointer, off the write
path, while the app's own connections leave it alone below the safety-net threshold."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.db import (
    WAL_AUTOCHECKPOINT_PAGES,
    WalCheckpointer,
    create_engine,
    session_factory,
    sqlite_file,
    transaction,
)
from emsync.core.settings import Settings

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


def test_only_sqlite_files_have_a_checkpointer() -> None:
    assert sqlite_file("postgresql+asyncpg://postgres@127.0.0.1/x") is None
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file("sqlite+aiosqlite:////tmp/x/emsync.db") == "/tmp/x/emsync.db"


@sqlite_only
async def test_committed_rows_reach_the_database_file_through_the_checkpointer(
    engine: AsyncEngine, settings: Settings
) -> None:
    path = sqlite_file(settings.database_url)
    assert path is not None
    async with engine.connect() as conn:
        pages = (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar()
        await conn.rollback()
    assert pages == WAL_AUTOCHECKPOINT_PAGES
    sessions = session_factory(engine)
    for n in range(50):
        async with transaction(sessions) as session:
            await session.execute(
                text("INSERT INTO handoff_feeds (hospital_id, last_seq) VALUES (:h, 0)"),
                {"h": f"wal-{n}"},
            )
    assert _wal_bytes(path) > 0  # committed, still in the WAL (below the safety net)

    checkpointer = WalCheckpointer(path)
    try:
        busy, frames, done = await checkpointer.checkpoint()
    finally:
        await checkpointer.stop()
    assert busy == 0
    assert frames > 0
    assert done == frames  # nothing held it back: every frame is in the database file now

    assert _rows_in_the_file_alone(path) == 50


def _wal_bytes(path: str) -> int:
    return Path(path + "-wal").stat().st_size


def _rows_in_the_file_alone(path: str) -> int:
    """Rows visible in a copy of the database file without its WAL."""
    copy = Path(path).with_name("copy.db")
    copy.write_bytes(Path(path).read_bytes())
    with sqlite3.connect(copy) as plain:
        row = plain.execute(
            "SELECT count(*) FROM handoff_feeds WHERE hospital_id LIKE 'wal-%'"
        ).fetchone()
    return int(row[0])
