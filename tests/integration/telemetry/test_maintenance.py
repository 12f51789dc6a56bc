"""Readings maintenance on both databases: partitions ahead of time (PostgreSQL), retention that
removes only what is wholly past the period, and readings outside every month kept safe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.db import create_engine
from emsync.core.settings import Settings
from emsync.telemetry.maintenance import maintain_postgresql, maintain_sqlite
from emsync.telemetry.retention import Month
from emsync.telemetry.store import ReadingRow, ReadingStore

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def _store(engine: AsyncEngine, stamps: list[datetime]) -> None:
    store = ReadingStore(engine)
    rows: list[ReadingRow] = [
        ("dev-1", 1, n, 0, "vitals", None, store.convert_time(ts), store.convert_time(ts), b"x")
        for n, ts in enumerate(stamps)
    ]
    assert await store.store(rows, [], NOW) == len(rows)


async def _stamps(engine: AsyncEngine) -> list[datetime]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT ts FROM telemetry_readings ORDER BY ts"))
        return [ts if isinstance(ts, datetime) else datetime.fromisoformat(ts) for (ts,) in rows]


async def _maintain(engine: AsyncEngine, now: datetime, retention_days: int | None) -> object:
    if engine.dialect.name == "postgresql":
        return await maintain_postgresql(engine, now=now, ahead=2, retention_days=retention_days)
    return await maintain_sqlite(engine, now=now, retention_days=retention_days)


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


async def test_retention_removes_only_readings_older_than_the_period(engine: AsyncEngine) -> None:
    old = NOW - timedelta(days=200)
    recent = NOW - timedelta(days=3)
    await _store(engine, [old, recent, NOW])
    await _maintain(engine, NOW, retention_days=None)
    assert len(await _stamps(engine)) == 3  # no retention period: nothing goes
    await _maintain(engine, NOW, retention_days=90)
    assert [_utc(t) for t in await _stamps(engine)] == [recent, NOW]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_months_ahead_are_created_and_take_their_rows_from_the_default(
    engine: AsyncEngine,
) -> None:
    far = Month.of(NOW).plus(8)
    stray = far.start + timedelta(days=2)  # a device with a wrong clock: the default partition
    await _store(engine, [stray])
    later = far.start - timedelta(days=20)  # months later, `far` is within the 2 ahead
    report = await maintain_postgresql(engine, now=later, ahead=2, retention_days=None)
    assert far.partition in report.created
    async with engine.connect() as conn:
        in_month = await conn.scalar(text(f"SELECT count(*) FROM {far.partition}"))  # noqa: S608
        in_default = await conn.scalar(text("SELECT count(*) FROM telemetry_readings_default"))
    assert (in_month, in_default) == (1, 0)
    again = await maintain_postgresql(engine, now=later, ahead=2, retention_days=None)
    assert again.created == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_expired_months_are_dropped_whole(engine: AsyncEngine) -> None:
    await _store(engine, [NOW])
    report = await maintain_postgresql(
        engine, now=NOW + timedelta(days=400), ahead=1, retention_days=30
    )
    assert Month.of(NOW).partition in report.dropped
    assert await _stamps(engine) == []
    # A redelivered reading is still refused by the (partition-wide) idempotency key.
    await _store(engine, [NOW + timedelta(days=400)])
    store = ReadingStore(engine)
    ts = store.convert_time(NOW + timedelta(days=400))
    assert await store.store([("dev-1", 1, 0, 0, "vitals", None, ts, ts, b"x")], [], NOW) == 0
