"""The worker role's readings maintenance: monthly partitions ahead of time and retention.

PostgreSQL: creates this month's and the next EMSYNC_TELEMETRY__PARTITIONS_AHEAD months'
partitions (moving any rows the default partition holds for them), drops months wholly older than
EMSYNC_TELEMETRY__RETENTION_DAYS and deletes such rows from the default partition. SQLite (one
table): deletes rows older than the retention period in chunks, so the writer is never held long.
Both are idempotent, so two workers running it at once do no harm. The live risk scores
(`telemetry_risk_scores`, one table on both) follow the readings' retention, deleted in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.background import Periodic
from emsync.core.clock import Clock
from emsync.core.db import bind_converter
from emsync.core.settings import TelemetrySettings
from emsync.telemetry.models import StoredReading, StoredRiskScore
from emsync.telemetry.retention import (
    DEFAULT_PARTITION,
    TABLE,
    Month,
    expired_months,
    months_to_create,
    retention_cutoff,
)

log = structlog.get_logger("emsync.telemetry.maintenance")
SQLITE_DELETE_CHUNK = 5000


@dataclass(slots=True)
class MaintenanceReport:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted_rows: int = 0
    deleted_risk_scores: int = 0


async def _partitions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST(:table AS regclass)"
            ),
            {"table": TABLE},
        )
        return [str(r[0]) for r in rows]


async def _create(engine: AsyncEngine, month: Month) -> None:
    """Attach `month`'s partition, first moving its rows out of the default partition (which
    would otherwise refuse the new bounds)."""
    start, end = month.start.isoformat(), month.end.isoformat()
    async with engine.begin() as conn:
        await conn.execute(
            text(f"CREATE TABLE {month.partition} (LIKE {TABLE} INCLUDING DEFAULTS)")
        )
        await conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608 - names are constants
                "WHERE ts >= :start AND ts < :end "
                f"RETURNING *) INSERT INTO {month.partition} SELECT * FROM moved"
            ),
            {"start": month.start, "end": month.end},
        )
        await conn.execute(
            text(
                f"ALTER TABLE {TABLE} ATTACH PARTITION {month.partition} "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
        )


async def maintain_postgresql(
    engine: AsyncEngine, *, now: datetime, ahead: int, retention_days: int | None
) -> MaintenanceReport:
    report = MaintenanceReport()
    existing = await _partitions(engine)
    if not existing:  # not partitioned (migration not applied): nothing to maintain
        return report
    months = {m for name in existing if (m := Month.from_partition(name)) is not None}
    for month in months_to_create(now, ahead):
        if month not in months:
            await _create(engine, month)
            report.created.append(month.partition)
    cutoff = retention_cutoff(now, retention_days)
    for month in expired_months(sorted(months), cutoff):
        async with engine.begin() as conn:
            await conn.execute(text(f"ALTER TABLE {TABLE} DETACH PARTITION {month.partition}"))
            await conn.execute(text(f"DROP TABLE {month.partition}"))
        report.dropped.append(month.partition)
    if cutoff is not None:
        async with engine.begin() as conn:
            result = await conn.execute(
                text(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts < :cutoff"),  # noqa: S608
                {"cutoff": cutoff},
            )
            report.deleted_rows += result.rowcount
    return report


async def maintain_sqlite(
    engine: AsyncEngine, *, now: datetime, retention_days: int | None
) -> MaintenanceReport:
    report = MaintenanceReport()
    cutoff = retention_cutoff(now, retention_days)
    if cutoff is None:
        return report
    # ts is stored as the ORM stores it; compare through the same bind processor.
    column = StoredReading.__table__.c.ts
    value = bind_converter(column, engine.dialect)(cutoff)
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(
                text(
                    f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE} "  # noqa: S608
                    "WHERE ts < :cutoff LIMIT :chunk)"
                ),
                {"cutoff": value, "chunk": SQLITE_DELETE_CHUNK},
            )
        report.deleted_rows += result.rowcount
        if result.rowcount < SQLITE_DELETE_CHUNK:
            return report


async def delete_expired_risk_scores(engine: AsyncEngine, cutoff: datetime | None) -> int:
    """Risk scores older than the cutoff, deleted a chunk per transaction; rows deleted."""
    if cutoff is None:
        return 0
    table = StoredRiskScore.__tablename__
    column = StoredRiskScore.__table__.c.ts
    value = bind_converter(column, engine.dialect)(cutoff)
    deleted = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(
                text(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "  # noqa: S608
                    "WHERE ts < :cutoff LIMIT :chunk)"
                ),
                {"cutoff": value, "chunk": SQLITE_DELETE_CHUNK},
            )
        deleted += result.rowcount
        if result.rowcount < SQLITE_DELETE_CHUNK:
            return deleted


class ReadingMaintenance:
    """BackgroundService of the worker role."""

    name = "telemetry.reading_maintenance"

    def __init__(self, *, engine: AsyncEngine, settings: TelemetrySettings, clock: Clock) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._periodic = Periodic(
            "telemetry-reading-maintenance",
            lambda: settings.maintenance_interval_seconds,
            self.tick,
            first_round_now=True,
        )

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def tick(self) -> MaintenanceReport:
        s = self._settings
        now = self._clock()
        if self._engine.dialect.name == "postgresql":
            report = await maintain_postgresql(
                self._engine, now=now, ahead=s.partitions_ahead, retention_days=s.retention_days
            )
        else:
            report = await maintain_sqlite(self._engine, now=now, retention_days=s.retention_days)
        report.deleted_risk_scores = await delete_expired_risk_scores(
            self._engine, retention_cutoff(now, s.retention_days)
        )
        if report.created or report.dropped or report.deleted_rows or report.deleted_risk_scores:
            log.info(
                "readings maintained",
                created=report.created,
                dropped=report.dropped,
                deleted_rows=report.deleted_rows,
                deleted_risk_scores=report.deleted_risk_scores,
            )
        return report
