"""ReadingStore on every storage path: PostgreSQL, a SQLite file (its SQLiteWriter) and an
in-memory SQLite database (no writer: through the engine)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.db import Base, create_engine, sqlite_writer
from emsync.core.settings import Settings
from emsync.telemetry.models import Device, StoredReading
from emsync.telemetry.store import INLINE_ROWS, ReadingRow, ReadingStore
from tests.conftest import make_settings

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# The other sessions on this test's database: the store's own connection among them.
OTHER_BACKENDS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
POSTGRES = pytest.mark.postgres


def _variants(*pairs: object) -> pytest.MarkDecorator:
    """(database, store engine) pairs: an in-memory database is a SQLite variant only, and the
    store keeps a connection of its own on PostgreSQL only."""
    return pytest.mark.parametrize(("database_url", "store_engine"), pairs, indirect=True)


@pytest.fixture
async def store_engine(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    if request.param == "memory":
        engine = create_engine(make_settings("sqlite+aiosqlite://", tmp_path))
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        assert sqlite_writer(engine) is None
    else:
        engine = create_engine(settings)
    async with engine.begin() as conn:
        for name in ("d1", "d2", "d3"):
            await conn.execute(
                Device.__table__.insert(),  # type: ignore[attr-defined]
                {"id": name, "type": "monitor", "algorithm": 1, "created_at": T0, "updated_at": T0},
            )
    yield engine
    await engine.dispose()


def _rows(store: ReadingStore, device: str, counters: range) -> list[ReadingRow]:
    return [
        (
            device,
            1,
            counter,
            0,
            "vitals",
            "p1",
            store.convert_time(T0 + timedelta(seconds=counter)),
            store.convert_time(T0),
            b"sealed-%d" % counter,
        )
        for counter in counters
    ]


@_variants(
    ("sqlite", "configured"),
    pytest.param("postgres", "configured", marks=POSTGRES),
    ("sqlite", "memory"),
)
async def test_rows_are_inserted_once_across_statements_and_devices_marked_seen(
    store_engine: AsyncEngine,
) -> None:
    store = ReadingStore(store_engine)
    seen = T0 + timedelta(minutes=5)
    # 700 rows take several multi-row statements on SQLite; one row repeats inside the batch.
    batch = _rows(store, "d1", range(700)) + _rows(store, "d1", range(3, 4))
    assert await store.store(batch, ["d1", "d2"], seen) == 700
    # A redelivered batch: the unique key skips what is there, the new rows go in.
    again = _rows(store, "d1", range(690, 710))
    assert await store.store(again, ["d1"], seen) == 10

    async with store_engine.connect() as conn:
        counters = (await conn.scalars(select(StoredReading.counter))).all()
        first = (
            await conn.execute(
                select(StoredReading.ts, StoredReading.sealed).where(StoredReading.counter == 5)
            )
        ).one()
        last_seen = dict((await conn.execute(select(Device.id, Device.last_seen_at))).all())
    assert sorted(counters) == list(range(710))
    # Stored exactly as the ORM stores a datetime: it reads back as the same instant.
    assert first.ts.replace(tzinfo=first.ts.tzinfo or UTC) == T0 + timedelta(seconds=5)
    assert first.sealed == b"sealed-5"
    assert {k: v and v.replace(tzinfo=v.tzinfo or UTC) for k, v in last_seen.items()} == {
        "d1": seen,
        "d2": seen,
        "d3": None,
    }


async def _backends(engine: AsyncEngine) -> int:
    """Other connections to this test's database."""
    async with engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) {OTHER_BACKENDS}")))


@_variants(pytest.param("postgres", "configured", marks=POSTGRES))
async def test_postgresql_store_recovers_from_a_dropped_connection(
    store_engine: AsyncEngine,
) -> None:
    store = ReadingStore(store_engine)
    seen = T0 + timedelta(minutes=5)
    assert await store.store(_rows(store, "d1", range(10)), ["d1"], seen) == 10
    # The server drops the store's connection between batches (a restart, a network cut).
    async with store_engine.connect() as conn:
        await conn.execute(text(f"SELECT pg_terminate_backend(pid) {OTHER_BACKENDS}"))
    batch = _rows(store, "d1", range(10, 20))
    # Ingest retries a failed batch as it is: one failure at most, then a fresh connection.
    try:
        inserted = await store.store(batch, ["d1"], seen)
    except Exception:  # noqa: BLE001 - whatever the driver raises, ingest retries
        inserted = await store.store(batch, ["d1"], seen)
    assert inserted == 10
    async with store_engine.connect() as conn:
        counters = (await conn.scalars(select(StoredReading.counter))).all()
    assert sorted(counters) == list(range(20))


@_variants(pytest.param("postgres", "configured", marks=POSTGRES))
async def test_postgresql_store_connection_closes_with_the_engine(
    store_engine: AsyncEngine, settings: Settings
) -> None:
    store = ReadingStore(store_engine)
    await store.store(_rows(store, "d1", range(3)), ["d1"], T0)
    await store_engine.dispose()
    observer = create_engine(settings)
    try:
        assert await _backends(observer) == 0
    finally:
        await observer.dispose()


@_variants(("sqlite", "configured"))
async def test_sqlite_small_batch_is_written_on_the_loop_thread_a_backlog_on_the_writer(
    store_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of a keeping-up ingest runs to its commit within the loop's turn (no hand-off
    whose GIL take-backs wait behind the loop); a backlog's batch uses the writer's thread."""
    store = ReadingStore(store_engine)
    threads: list[int] = []
    write = store._store_sqlite

    def observed(*args: Any) -> int:
        threads.append(threading.get_ident())
        return write(*args)

    monkeypatch.setattr(store, "_store_sqlite", observed)
    assert await store.store(_rows(store, "d1", range(20)), ["d1"], T0) == 20
    assert await store.store(_rows(store, "d1", range(20, 20 + INLINE_ROWS + 1)), ["d1"], T0) == (
        INLINE_ROWS + 1
    )
    assert threads[0] == threading.get_ident()
    assert threads[1] != threading.get_ident()


@_variants(("sqlite", "configured"))
async def test_sqlite_small_batch_waits_off_the_loop_for_another_processes_write_lock(
    store_engine: AsyncEngine, settings: Settings
) -> None:
    """Another process holding SQLite's write lock: the batch is stored once the lock is free,
    and the event loop keeps running meanwhile (it never sleeps in SQLite's busy handler)."""
    store = ReadingStore(store_engine)
    await store.store(_rows(store, "d1", range(1)), ["d1"], T0)  # connections open, schema known
    path = settings.database.url.split("///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    loop = asyncio.get_running_loop()
    loop.call_later(0.5, other.execute, "COMMIT")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        assert await store.store(_rows(store, "d1", range(1, 21)), ["d1"], T0) == 20
    finally:
        ticking.cancel()
        other.close()
    assert ticks >= 10  # the loop ran through the half second the lock was held
    async with store_engine.connect() as conn:
        counters = (await conn.scalars(select(StoredReading.counter))).all()
    assert sorted(counters) == list(range(21))
