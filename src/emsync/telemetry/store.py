"""Writing one ingest batch: its reading rows (insert-or-ignore) and its devices' last-seen time,
in one transaction.

SQLAlchemy's per-row parameter processing cost more than the database itself, so rows are
plain tuples in column order, with the datetimes already converted by the column type's own
bind processor (stored exactly as the ORM stores them).
- PostgreSQL: one INSERT ... SELECT FROM unnest(arrays), one round trip.
- SQLite: rows go in multi-row INSERT ... VALUES statements: sqlite3's executemany steps, and
  so gives up and takes back the GIL, once per row, and while another thread is busy each
  take-back can wait out the interpreter's 5 ms switch interval (1,000 rows: 8 s beside a
  CPU-bound thread, against 86 ms as multi-row statements). On a file the whole transaction
  runs on the engine's SQLiteWriter, one hand-off to its thread; an in-memory database (tests,
  schema generation) has no writer and goes through the engine, statement by statement.
Either way duplicates (a redelivered message) are skipped by the unique key, and the number of
rows actually inserted comes back.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.db import sqlite_writer
from emsync.telemetry.models import Device, StoredReading

READING_COLUMNS = (
    "device_id",
    "key_id",
    "counter",
    "idx",
    "kind",
    "patient_id",
    "ts",
    "received_at",
    "sealed",
)
_PG_ARRAY_TYPES = (
    "varchar[]",
    "integer[]",
    "bigint[]",
    "integer[]",
    "varchar[]",
    "varchar[]",
    "timestamptz[]",
    "timestamptz[]",
    "bytea[]",
)
ReadingRow = tuple[str, int, int, int, str, str | None, Any, Any, bytes]

# Rows per SQLite INSERT: powers of two up to this many, so a batch is a few statements and
# there are at most ten distinct SQL texts (each prepared once, then from sqlite3's cache).
# 512 rows x 9 columns = 4,608 bound values; SQLite before 3.32 allowed only 999.
_SQLITE_MAX_ROWS = 512 if sqlite3.sqlite_version_info >= (3, 32, 0) else 64


class ReadingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        readings = cast(Table, StoredReading.__table__)
        devices = cast(Table, Device.__table__)
        dialect = engine.dialect
        # The dialect's own implementation of the column type: on SQLite that is the string
        # format SQLAlchemy stores (a bare `DateTime` would leave it to sqlite3's adapter).
        convert = readings.c.ts.type.dialect_impl(dialect).bind_processor(dialect)
        self.convert_time: Any = convert if convert is not None else (lambda value: value)
        columns = ", ".join(READING_COLUMNS)
        arrays = ", ".join(f"${i}::{t}" for i, t in enumerate(_PG_ARRAY_TYPES, start=1))
        self._pg_insert = (
            f"INSERT INTO {readings.name} ({columns}) SELECT * FROM unnest({arrays}) "  # noqa: S608 - names are the model's constants, values are bound
            "ON CONFLICT DO NOTHING"
        )
        row = "(" + ", ".join("?" for _ in READING_COLUMNS) + ")"
        self._sqlite_insert = {
            size: f"INSERT INTO {readings.name} ({columns}) VALUES "  # noqa: S608 - as above
            + ", ".join(row for _ in range(size))
            + " ON CONFLICT DO NOTHING"
            for size in (2**i for i in range(_SQLITE_MAX_ROWS.bit_length()))
        }
        # Every device of a batch was seen at the batch's time: one statement, not one per device.
        self._sqlite_seen = (
            f"UPDATE {devices.name} SET last_seen_at = ? "  # noqa: S608 - as above
            "WHERE id IN (SELECT value FROM json_each(?))"
        )
        self._mark_seen = (
            update(devices)
            .where(devices.c.id.in_(bindparam("b_ids", expanding=True)))
            .values(last_seen_at=bindparam("b_at"))
        )
        self._direct = sqlite_writer(engine)
        self._postgres = dialect.name == "postgresql"

    async def store(
        self, rows: list[ReadingRow], device_ids: list[str], seen_at: datetime
    ) -> int | None:
        """Rows newly inserted (None if the driver cannot tell). `device_ids` sorted: ingest
        processes sharing the load then lock device rows in one order."""
        if self._direct is not None:
            work = functools.partial(
                self._store_sqlite, rows, device_ids, self.convert_time(seen_at)
            )
            return await self._direct.transaction(work)
        async with self._engine.begin() as conn:
            if not self._postgres:
                inserted = 0
                for sql, values in self._sqlite_statements(rows):
                    inserted += (await conn.exec_driver_sql(sql, values)).rowcount
                seen = (self.convert_time(seen_at), orjson.dumps(device_ids).decode())
                await conn.exec_driver_sql(self._sqlite_seen, seen)
                return inserted
            result = await conn.exec_driver_sql(
                self._pg_insert, tuple(list(c) for c in zip(*rows, strict=True))
            )
            await conn.execute(self._mark_seen, {"b_ids": device_ids, "b_at": seen_at})
        count = result.rowcount
        return count if count is not None and count >= 0 else None

    def _store_sqlite(
        self, rows: list[ReadingRow], device_ids: list[str], seen_at: Any, conn: sqlite3.Connection
    ) -> int:
        inserted = 0
        for sql, values in self._sqlite_statements(rows):
            inserted += conn.execute(sql, values).rowcount
        conn.execute(self._sqlite_seen, (seen_at, orjson.dumps(device_ids).decode()))
        return inserted

    def _sqlite_statements(self, rows: list[ReadingRow]) -> Iterator[tuple[str, tuple[Any, ...]]]:
        start = 0
        while start < len(rows):
            # The largest statement that fits what is left: 1,000 rows are 6 statements.
            size = min(_SQLITE_MAX_ROWS, 1 << ((len(rows) - start).bit_length() - 1))
            yield (
                self._sqlite_insert[size],
                tuple(v for row in rows[start : start + size] for v in row),
            )
            start += size
