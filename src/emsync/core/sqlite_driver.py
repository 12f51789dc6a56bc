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

A write transaction's hand-offs are cut further (issue #16, the handoff round trip): its BEGIN
IMMEDIATE goes with its first statement, as a read's deferred BEGIN does, and a write whose
outcome its caller never reads (an append-only INSERT run under `deferred()`) waits on the
loop's side and goes with the next statement, or with the COMMIT. Order on the connection is
unchanged; what moves is where an error surfaces: a held-back write that fails raises from the
statement or the commit it went with, which fails the transaction as its own failure would.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

# What SQLiteWriteGate (core/db.py) sends to begin a read-only transaction, and a writing one.
# Neither reads nor writes anything: each is held back until the transaction's next statement.
_BEGINS = frozenset({"BEGIN", "BEGIN IMMEDIATE"})
# (description, rowcount, lastrowid, rows) of one executed statement.
_Outcome = tuple[Any, int, int | None, list[Any]]
# What a held-back write reports (SQLAlchemy reads no more of an INSERT's outcome).
_HELD: _Outcome = (None, 1, None, [])
# Statements held back on the loop's side, to run before the next one: (SQL, parameters).
_Held = list[tuple[str, Any]]

_DEFER: ContextVar[bool] = ContextVar("emsync_sqlite_defer_writes", default=False)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Statements executed in this block on a FewHopConnection inside a transaction are held
    back and run with the transaction's next statement or its commit: for writes whose outcome
    (rowcount, rows, lastrowid, an error at that very statement) nobody reads. Elsewhere
    (PostgreSQL, another driver) the block changes nothing."""
    token = _DEFER.set(True)
    try:
        yield
    finally:
        _DEFER.reset(token)


def _prelude(conn: sqlite3.Connection, begin: str | None, held: _Held) -> None:
    """On the connection's thread: the BEGIN and the writes held back until this hand-off."""
    if begin is not None:
        conn.execute(begin)
    for sql, parameters in held:
        conn.execute(sql, parameters).close()


def _run(
    conn: sqlite3.Connection,
    sql: str,
    parameters: Any,
    begin: str | None = None,
    held: _Held | None = None,
) -> _Outcome:
    """On the connection's thread: the whole life of one cursor (after what was held back for
    it: a BEGIN, writes)."""
    _prelude(conn, begin, held or [])
    cursor = conn.cursor()
    try:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description is not None else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(
    conn: sqlite3.Connection,
    sql: str,
    parameters: Iterable[Any],
    begin: str | None = None,
    held: _Held | None = None,
) -> _Outcome:
    _prelude(conn, begin, held or [])
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
        if sql in _BEGINS and not parameters and conn.begin_pending is None:
            # A deferred BEGIN takes no lock and no snapshot until the next statement reads;
            # BEGIN IMMEDIATE takes the write lock, which nothing of this transaction needs
            # before its next statement (this process's writers already queued for their
            # turn, SQLiteWriteGate): running it in that statement's hand-off changes nothing
            # but the hand-offs.
            conn.begin_pending = sql
            return self._keep((None, -1, None, []))
        if _DEFER.get() and (conn.begin_pending is not None or conn.in_transaction):
            conn.held.append((sql, parameters or ()))
            return self._keep(_HELD)
        begin, conn.begin_pending = conn.begin_pending, None
        held, conn.held = conn.held, []
        outcome = await conn._execute(_run, conn._conn, sql, parameters or (), begin, held)  # type: ignore[no-untyped-call]
        return self._keep(outcome)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> PrefetchingCursor:
        conn = self._owner
        begin, conn.begin_pending = conn.begin_pending, None
        held, conn.held = conn.held, []
        outcome = await conn._execute(_run_many, conn._conn, sql, parameters, begin, held)  # type: ignore[no-untyped-call]
        return self._keep(outcome)

    async def executescript(self, sql_script: str) -> PrefetchingCursor:
        conn = self._owner
        begin, conn.begin_pending = conn.begin_pending, None
        held, conn.held = conn.held, []
        if begin is not None or held:
            await conn._execute(_prelude, conn._conn, begin, held)  # type: ignore[no-untyped-call]
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


def _commit(conn: sqlite3.Connection, begin: str | None, held: _Held) -> None:
    _prelude(conn, begin, held)
    conn.commit()


class FewHopConnection(aiosqlite.Connection):
    # A BEGIN not yet sent: it goes with the next statement, or nowhere if the transaction ends
    # first (a session that ran no statement).
    begin_pending: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Writes held back (`deferred`): they go with the next statement or the commit.
        self.held: _Held = []

    @contextmanager
    async def cursor(self) -> PrefetchingCursor:  # type: ignore[override]
        return PrefetchingCursor(self)

    async def commit(self) -> None:
        begin, self.begin_pending = self.begin_pending, None
        held, self.held = self.held, []
        if held:  # the BEGIN, the held writes and the COMMIT in one hand-off
            await self._execute(_commit, self._conn, begin, held)  # type: ignore[no-untyped-call]
            return
        if self._connection is not None and not self._connection.in_transaction:
            return  # nothing began: nothing to commit
        await super().commit()

    async def rollback(self) -> None:
        self.begin_pending = None
        self.held = []  # never sent: nothing of them to undo
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
