"""aiosqlite connections that cross to their thread once per statement, not four times.

aiosqlite runs every call of a connection on that connection's thread: a hand-off there and a
wake-up of the event loop back (a queue put, a thread switch, a self-pipe write), measured at
tens of microseconds of CPU each on a loaded machine. Through SQLAlchemy's aiosqlite adapter one
statement took four of them (make a cursor, execute, fetch all rows, close the cursor), so a
`GET /api/incidents/{id}` (BEGIN, two SELECTs, ROLLBACK) made about 14 and spent more CPU on the
hand-offs than on SQLite. Here the cursor is made, executed, drained and closed in one hand-off,
and the rows wait on the loop's side for SQLAlchemy to fetch them (it fetches them all after
`execute` anyway); the rollback with which the pool resets a connection it gets back costs
nothing when there is no transaction to roll back (a read-only session that ran no statement).
Everything else is aiosqlite's: the thread, its queue, commit, close.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

# What SQLiteWriteGate (core/db.py) sends to begin a read-only transaction.
_DEFERRED_BEGIN = "BEGIN"
# (description, rowcount, lastrowid, rows) of one executed statement.
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, sql: str, parameters: Any, begin: bool = False) -> _Outcome:
    """On the connection's thread: the whole life of one cursor (after a deferred BEGIN that
    was put off until now, when `begin`)."""
    if begin:
        conn.execute(_DEFERRED_BEGIN)
    cursor = conn.cursor()
    try:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description is not None else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(
    conn: sqlite3.Connection, sql: str, parameters: Iterable[Any], begin: bool = False
) -> _Outcome:
    if begin:
        conn.execute(_DEFERRED_BEGIN)
    cursor = conn.cursor()
    try:
        cursor.executemany(sql, parameters)
        return None, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class PrefetchingCursor(aiosqlite.Cursor):
    """An aiosqlite cursor whose statement runs, and whose rows are read, in one hand-off."""

    arraysize = 1

    def __init__(self, conn: FewHopConnection) -> None:  # no sqlite3 cursor: made per statement
        self.iter_chunk_size = conn._iter_chunk_size
        self._conn = conn
        self._owner = conn  # typed as ours (aiosqlite types `_conn` as its own Connection)
        self._rows: deque[Any] = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    def _keep(self, outcome: _Outcome) -> PrefetchingCursor:
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> PrefetchingCursor:
        conn = self._owner
        if sql == _DEFERRED_BEGIN and not parameters and not conn.begin_pending:
            # A deferred BEGIN takes no lock and no snapshot until the next statement reads:
            # running it in that statement's hand-off changes nothing but the hand-offs.
            conn.begin_pending = True
            return self._keep((None, -1, None, []))
        begin, conn.begin_pending = conn.begin_pending, False
        outcome = await conn._execute(_run, conn._conn, sql, parameters or (), begin)  # type: ignore[no-untyped-call]
        return self._keep(outcome)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> PrefetchingCursor:
        conn = self._owner
        begin, conn.begin_pending = conn.begin_pending, False
        outcome = await conn._execute(_run_many, conn._conn, sql, parameters, begin)  # type: ignore[no-untyped-call]
        return self._keep(outcome)

    async def executescript(self, sql_script: str) -> PrefetchingCursor:
        conn = self._owner
        if conn.begin_pending:
            conn.begin_pending = False
            await conn._execute(conn._conn.execute, _DEFERRED_BEGIN)  # type: ignore[no-untyped-call]
        await conn._execute(conn._conn.executescript, sql_script)  # type: ignore[no-untyped-call]
        return self._keep((None, -1, None, []))

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(len(self._rows), self.arraysize if size is None else size)
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> list[Any]:
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        self._rows.clear()

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._lastrowid

    @property
    def description(self) -> tuple[tuple[str, None, None, None, None, None, None], ...]:
        return self._description  # type: ignore[no-any-return]


class FewHopConnection(aiosqlite.Connection):
    # A deferred BEGIN not yet sent: it goes with the next statement, or nowhere if the
    # transaction ends first (a read-only session that ran no statement).
    begin_pending = False

    @contextmanager
    async def cursor(self) -> PrefetchingCursor:  # type: ignore[override]
        return PrefetchingCursor(self)

    async def commit(self) -> None:
        self.begin_pending = False  # nothing began: nothing to commit
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().commit()

    async def rollback(self) -> None:
        self.begin_pending = False
        # `in_transaction` reads SQLite's autocommit flag; no statement of this connection is
        # running meanwhile (its user awaits each one), so reading it here is safe.
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().rollback()


def connect(database: str | bytes, **kwargs: Any) -> FewHopConnection:
    """`aiosqlite.connect`, making a FewHopConnection (a daemon thread, as SQLAlchemy's own)."""

    def connector() -> sqlite3.Connection:
        path = database.decode() if isinstance(database, bytes) else str(database)
        connection: sqlite3.Connection = sqlite3.connect(path, **kwargs)
        return connection

    connection = FewHopConnection(connector, 64)
    connection._thread.daemon = True
    return connection


def use_few_hop_connections(
    _dialect: Any, _record: Any, _cargs: list[Any], cparams: dict[str, Any]
) -> None:
    """`do_connect` listener for an aiosqlite engine: its pool's new connections are ours."""
    cparams["async_creator_fn"] = connect
