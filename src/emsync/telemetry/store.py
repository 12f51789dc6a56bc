"""Writing one ingest batch: its reading rows (insert-or-ignore) and its devices' last-seen time,
in one transaction.

SQLAlchemy's per-row parameter processing cost more than the database itself, so rows are
plain tuples in column order, with the datetimes already converted by the column type's own
bind processor (stored exactly as the ORM stores them).
- PostgreSQL: one statement, so one round trip and its own transaction: the INSERT ... SELECT
  FROM unnest(arrays) and the devices' UPDATE as data-modifying CTEs, on a connection the store
  keeps (see _HeldConnection). Through a pooled session a batch took seven round trips (the
  pool's pre-ping is BEGIN, ping, ROLLBACK; then BEGIN, INSERT, UPDATE, COMMIT), and each
  resumption waited behind the next batch being prepared on the event loop: 33 ms per
  1,000 rows in bench/ingest.py's drain against 9-14 ms alone.
- SQLite: rows go in multi-row INSERT ... VALUES statements: sqlite3's executemany steps, and
  so gives up and takes back the GIL, once per row, and while another thread is busy each
  take-back can wait out the interpreter's 5 ms switch interval (1,000 rows: 8 s beside a
  CPU-bound thread, against 86 ms as multi-row statements). On a file a small batch (the
  ingest keeping up) is written on the event loop's own thread (see _LoopWriter), a large one
  (a backlog) in one hand-off to the engine's SQLiteWriter thread; an in-memory database
  (tests, schema generation) has no writer and goes through the engine, statement by statement.
Either way duplicates (a redelivered message) are skipped by the unique key, and the number of
rows actually inserted comes back.

Also here: the at-rest format of a reading (`reading_aad`, `open_reading`), which the pipeline
writes and the vitals queries read back.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Engine, Table, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.db import (
    WAL_AUTOCHECKPOINT_PAGES,
    MultiRowInsert,
    SQLiteWriter,
    bind_converter,
    commit_work,
    sqlite_writer,
)
from emsync.telemetry.models import Device, StoredReading
from emsync.telemetry.schemas import VitalsReading

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


class _HeldConnection:
    """A pooled PostgreSQL connection kept by the store and used through its driver (asyncpg).

    Checked out once (the pool pre-pings it then) instead of per batch. On any error it is
    invalidated, not returned: the batch is retried by ingest and the next call checks out a
    fresh connection. Closed when the engine is disposed: a connection kept checked out would
    otherwise outlive the engine.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        event.listen(engine.sync_engine, "engine_disposed", self._close)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if self._conn is None:
            conn = await self._engine.connect()
            try:
                raw = await conn.get_raw_connection()
            except BaseException:
                await conn.close()
                raise
            self._conn, self._driver = conn, raw.driver_connection
        try:
            return await self._driver.fetchval(sql, *args)
        except BaseException:
            # Failed or cancelled mid-statement: the connection's state is unknown.
            conn, self._conn, self._driver = self._conn, None, None
            await conn.invalidate()
            raise

    def _close(self, _engine: Engine) -> None:
        # Runs inside AsyncEngine.dispose's greenlet, where the sync API may wait on the driver.
        conn, self._conn, self._driver = self._conn, None, None
        sync = conn.sync_connection if conn is not None else None
        if sync is not None:
            sync.invalidate()
            sync.close()


# Rows of a batch written on the event loop's thread (_LoopWriter); more go to the writer thread.
# At 2,000 readings/s the ingest takes batches of 10-120 messages; a backlog takes 1,000.
INLINE_ROWS = 256


class _LoopWriter:
    """A SQLite connection used on the event loop's own thread, for a batch small enough that
    writing it there costs less than handing it to SQLiteWriter's thread.

    Why. The hand-off is not what it costs: the writer thread needs the GIL back after every
    statement (sqlite3 lets it go around each prepare and step), about ten times per
    transaction, and while the loop runs Python (the next batch being opened, the dashboards'
    requests) each take-back waits out the switch interval, 5 ms. Traced in `emsync serve`
    under bench/ingest.py --latency-only --api-load (SQLite, 2,000 readings/s, machine load 7):
    the store of a batch of ~25 readings took p50 4.5 ms, p99 79 ms from hand-off to back on the
    loop, for well under a millisecond of SQLite's work; every reading behind it waited too.
    Here the transaction runs to its end within one turn of the loop, and the loop keeps the GIL.

    It takes this process's write turn like any writer (the engine's SQLiteWriteGate) and has
    the engine's pragmas but no busy timeout: if another process holds SQLite's write lock,
    BEGIN IMMEDIATE fails at once and the batch goes to the writer thread, which may wait
    (the loop never sleeps in SQLite's busy handler). Its commits checkpoint the WAL only past
    the engine's safety net (WAL_AUTOCHECKPOINT_PAGES): in `emsync serve` core.db.WalCheckpointer
    keeps the WAL below that, off the write path.
    """

    def __init__(self, writer: SQLiteWriter, engine: AsyncEngine) -> None:
        self._writer = writer
        self._conn: sqlite3.Connection | None = None
        event.listen(engine.sync_engine, "engine_disposed", self._close)

    def _connect(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            # check_same_thread off: the engine's disposal (which closes it) may run elsewhere.
            # The writer's file and write gate: the same database, the same turn.
            path = self._writer.path
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            self._conn = conn
        return conn

    async def transaction(self, work: Callable[[sqlite3.Connection], int]) -> int | None:
        """`work`'s result, committed; None (nothing done) when another process holds the
        write lock."""
        async with self._writer.gate.held():
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    return None
                raise
            return commit_work(conn, work)

    def _close(self, _engine: Engine) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class ReadingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        readings = cast(Table, StoredReading.__table__)
        devices = cast(Table, Device.__table__)
        dialect = engine.dialect
        self.convert_time = bind_converter(readings.c.ts, dialect)
        columns = ", ".join(READING_COLUMNS)
        arrays = ", ".join(f"${i}::{t}" for i, t in enumerate(_PG_ARRAY_TYPES, start=1))
        seen_at, ids = len(_PG_ARRAY_TYPES) + 1, len(_PG_ARRAY_TYPES) + 2
        # Both CTEs run to completion whether or not the outer query reads them.
        self._pg_store = (
            f"WITH inserted AS (INSERT INTO {readings.name} ({columns}) "  # noqa: S608 - names are the model's constants, values are bound
            f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING RETURNING 1), "
            f"seen AS (UPDATE {devices.name} SET last_seen_at = ${seen_at} "
            f"WHERE id = ANY(${ids}::varchar[])) "
            "SELECT count(*) FROM inserted"
        )
        self._sqlite_insert = MultiRowInsert(
            readings.name, READING_COLUMNS, suffix="ON CONFLICT DO NOTHING"
        )
        # Every device of a batch was seen at the batch's time: one statement, not one per device.
        self._sqlite_seen = (
            f"UPDATE {devices.name} SET last_seen_at = ? "  # noqa: S608 - as above
            "WHERE id IN (SELECT value FROM json_each(?))"
        )
        self._direct = sqlite_writer(engine)
        self._inline = None if self._direct is None else _LoopWriter(self._direct, engine)
        self._held = _HeldConnection(engine) if dialect.name == "postgresql" else None

    async def store(self, rows: list[ReadingRow], device_ids: list[str], seen_at: datetime) -> int:
        """Rows newly inserted. `device_ids` sorted: ingest processes sharing the load then lock
        device rows in one order."""
        if self._held is not None:
            columns = [list(c) for c in zip(*rows, strict=True)]
            inserted = await self._held.fetchval(
                self._pg_store, *columns, self.convert_time(seen_at), device_ids
            )
            return int(inserted)
        if self._direct is not None:
            work = functools.partial(
                self._store_sqlite, rows, device_ids, self.convert_time(seen_at)
            )
            if self._inline is not None and len(rows) <= INLINE_ROWS:
                inserted = await self._inline.transaction(work)
                if inserted is not None:
                    return inserted
            return await self._direct.transaction(work)
        async with self._engine.begin() as conn:  # in-memory SQLite
            inserted = 0
            for sql, values in self._sqlite_insert.statements(rows):
                inserted += (await conn.exec_driver_sql(sql, values)).rowcount
            seen = (self.convert_time(seen_at), orjson.dumps(device_ids).decode())
            await conn.exec_driver_sql(self._sqlite_seen, seen)
            return inserted

    def _store_sqlite(
        self, rows: list[ReadingRow], device_ids: list[str], seen_at: Any, conn: sqlite3.Connection
    ) -> int:
        inserted = self._sqlite_insert.execute(conn, rows)
        conn.execute(self._sqlite_seen, (seen_at, orjson.dumps(device_ids).decode()))
        return inserted


# ---- the at-rest format: each reading's values sealed under the keyring, with associated data
# naming the device, key, envelope counter and index; and how a stored row reads back.

COUNTER_OFFSET = 2**63  # uint64 envelope counter <-> signed BIGINT column


def reading_aad(device_id: str, key_id: int, counter: int, idx: int) -> bytes:
    return f"telemetry.reading:{device_id}:{key_id}:{counter}:{idx}".encode()


def open_reading(keyring: Keyring, row: Any) -> dict[str, Any]:
    """The sealed values of one stored row (columns device_id, key_id, counter, idx, sealed)."""
    aad = reading_aad(row.device_id, row.key_id, row.counter + COUNTER_OFFSET, row.idx)
    value: dict[str, Any] = orjson.loads(keyring.open(row.sealed, aad=aad))
    return value


STORED_COLUMNS = (
    StoredReading.device_id,
    StoredReading.key_id,
    StoredReading.counter,
    StoredReading.idx,
    StoredReading.ts,
    StoredReading.sealed,
)


def vitals_reading(row: Any, values: dict[str, Any]) -> VitalsReading:
    return reading_of(as_utc(row.ts), row.device_id, values)


def reading_of(ts: datetime, device_id: str, values: dict[str, Any]) -> VitalsReading:
    """A reading's stored values (with the scoring detail) as the one wire shape of a reading,
    for the history and the live push alike."""
    news = values.get("news2")
    pews = values.get("pews")
    return VitalsReading(
        ts=ts,
        device_id=device_id,
        hr=values.get("hr"),
        spo2=values.get("spo2"),
        rr=values.get("rr"),
        sbp=values.get("sbp"),
        dbp=values.get("dbp"),
        temp=values.get("temp"),
        o2=values.get("o2"),
        avpu=values.get("avpu"),
        news2=news["total"] if news else None,
        band=news["band"] if news else pews["band"] if pews else None,
        pews=pews["total"] if pews else None,
        artefacts=values.get("artefacts") or [],
    )


def pushed_reading(device_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`reading_of(...).model_dump(mode="json")` of a reading as the pipeline pushes it (its
    `ts` an aware datetime's `isoformat()`), built directly: the live push does this once per
    reading, and the model's validation and dump cost five times the dict. The same JSON as
    the model's (tests/unit/telemetry/test_pushed_reading.py holds it to the model): numbers as
    floats, UTC as `Z`, the score's total and band, artefacts as {field, kind}."""
    news = values.get("news2")
    pews = values.get("pews")
    ts: str = values["ts"]
    hr, spo2, rr = values.get("hr"), values.get("spo2"), values.get("rr")
    sbp, dbp, temp = values.get("sbp"), values.get("dbp"), values.get("temp")
    return {
        "ts": ts[:-6] + "Z" if ts.endswith("+00:00") else ts,
        "device_id": device_id,
        "hr": None if hr is None else float(hr),
        "spo2": None if spo2 is None else float(spo2),
        "rr": None if rr is None else float(rr),
        "sbp": None if sbp is None else float(sbp),
        "dbp": None if dbp is None else float(dbp),
        "temp": None if temp is None else float(temp),
        "o2": values.get("o2"),
        "avpu": values.get("avpu"),
        "news2": news["total"] if news else None,
        "band": news["band"] if news else pews["band"] if pews else None,
        "pews": pews["total"] if pews else None,
        "artefacts": [
            {"field": a["field"], "kind": a["kind"]} for a in values.get("artefacts") or ()
        ],
    }
