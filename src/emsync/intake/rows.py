"""The session and step rows a run's transaction reads and writes, as plain objects moved by
Core statements built once, not ORM instances: each step of a session cost a transaction that
loaded the session and its eight steps through the ORM and flushed them through the unit of
work, which was most of the orchestrator's CPU per session (bench/intake.py). A row remembers
what it was read as, and `write` updates only the columns a run changed, as a flush would.

`transact` is a run's whole transaction: the session locked and its steps read, the caller's
decision on them (plain Python, no I/O), the changed rows and agent-log rows written. On a
SQLite file it runs whole on the engine's SQLiteWriter (core.db): one hand-off to its thread
instead of one per statement and BEGIN and COMMIT (about six), with the same SQL, compiled
once, and the columns' own conversions."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from emsync.core.db import SQLiteWriter, bind_converter, sqlite_writer
from emsync.intake import rows_pg
from emsync.intake.models import IntakeAgentLog, IntakeSession, IntakeStep

_SESSIONS: Table = IntakeSession.__table__  # type: ignore[assignment]
_STEPS: Table = IntakeStep.__table__  # type: ignore[assignment]
_LOGS: Table = IntakeAgentLog.__table__  # type: ignore[assignment]


T = TypeVar("T")


@dataclass(slots=True, eq=False)
class SessionRow:
    id: str
    workflow: str
    status: str
    hospital_id: str | None
    actor: str | None
    payload_sealed: bytes
    started_at: datetime | None
    clinical_done_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    read_as: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(slots=True, eq=False)
class StepRow:
    session_id: str
    agent: str
    position: int
    clinical: bool
    status: str
    attempts: int
    claimed_by: str | None
    result_sealed: bytes | None
    error: str | None
    forced: bool
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    updated_at: datetime
    read_as: dict[str, Any] = field(default_factory=dict, repr=False)


SESSION_COLUMNS = tuple(f.name for f in fields(SessionRow) if f.name != "read_as")
STEP_COLUMNS = tuple(f.name for f in fields(StepRow) if f.name != "read_as")
_SESSION_KEY = ("id",)
_STEP_KEY = ("session_id", "agent")

# The session row locked (every writer of a session's steps takes it first: on PostgreSQL their
# changes are serialized, as SQLite's single writer does), then its steps read after the lock is
# held, in a statement of their own: a join locking only the session would return, after a wait,
# the steps as they were before the lock holder's commit (PostgreSQL re-reads only locked rows).
_LOCK_SESSION = (
    select(*(_SESSIONS.c[name] for name in SESSION_COLUMNS))
    .where(_SESSIONS.c.id == bindparam("sid"))
    .with_for_update()
)
_READ_STEPS = (
    select(*(_STEPS.c[name] for name in STEP_COLUMNS))
    .where(_STEPS.c.session_id == bindparam("sid"))
    .order_by(_STEPS.c.position)
)
# SQLite: both in one statement (a write transaction there begins with the database's single
# write lock, so no writer can change the steps between the session's read and theirs): one
# statement and one hand-off to the driver's thread less per step transaction.
_SESSION_AND_STEPS = (
    select(
        *(_SESSIONS.c[name] for name in SESSION_COLUMNS),
        *(_STEPS.c[name].label(f"s_{name}") for name in STEP_COLUMNS),
    )
    .join(_STEPS, _STEPS.c.session_id == _SESSIONS.c.id)
    .where(_SESSIONS.c.id == bindparam("sid"))
    .order_by(_STEPS.c.position)
)
_READ_STEP = select(*(_STEPS.c[name] for name in STEP_COLUMNS)).where(
    _STEPS.c.session_id == bindparam("sid"), _STEPS.c.agent == bindparam("agent")
)
_INSERT_LOG = insert(_LOGS)
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_STEPS = insert(_STEPS)
_NEWSESSION_COLUMNS = (
    *SESSION_COLUMNS,
    *(c.name for c in _SESSIONS.columns if c.name not in SESSION_COLUMNS),
)


def _read(cls: Any, columns: tuple[str, ...], row: Any) -> Any:
    values = dict(zip(columns, row, strict=True))
    return cls(**values, read_as=values)


async def locked(conn: AsyncConnection, session_id: str) -> tuple[SessionRow, list[StepRow]]:
    """The session row, locked, and its steps in order, fresh (raises NoResultFound)."""
    if conn.dialect.name == "sqlite":
        both = (await conn.execute(_SESSION_AND_STEPS, {"sid": session_id})).all()
        if not both:
            raise NoResultFound(f"no intake session {session_id}")
        split = len(SESSION_COLUMNS)
        row: SessionRow = _read(SessionRow, SESSION_COLUMNS, both[0][:split])
        return row, [_read(StepRow, STEP_COLUMNS, r[split:]) for r in both]
    found = (await conn.execute(_LOCK_SESSION, {"sid": session_id})).one()
    row = _read(SessionRow, SESSION_COLUMNS, found)
    return row, await read_steps(conn, session_id)


async def read_steps(conn: AsyncConnection, session_id: str) -> list[StepRow]:
    result = await conn.execute(_READ_STEPS, {"sid": session_id})
    return [_read(StepRow, STEP_COLUMNS, r) for r in result]


async def read_step(conn: AsyncConnection, session_id: str, agent: str) -> StepRow | None:
    """One step, not locked (what a backoff reads)."""
    found = (await conn.execute(_READ_STEP, {"sid": session_id, "agent": agent})).first()
    return None if found is None else _read(StepRow, STEP_COLUMNS, found)


@functools.cache
def _update(table: Table, key: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    """UPDATE of `columns` by primary key, one statement per set of columns, built once."""
    where = [table.c[name] == bindparam(f"k_{name}") for name in key]
    values = {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns}
    return update(table).where(*where).values(values)


async def write(conn: AsyncConnection, session: SessionRow, steps: list[StepRow]) -> None:
    """The columns changed since the rows were read (none changed: no statement); the steps
    in one executemany."""
    await _write(conn, _SESSIONS, _SESSION_KEY, SESSION_COLUMNS, [session])
    await _write(conn, _STEPS, _STEP_KEY, STEP_COLUMNS, steps)


async def _write(
    conn: AsyncConnection,
    table: Table,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    changed_rows: Sequence[Any],
) -> None:
    found = _changes(key, columns, changed_rows)
    if found is not None:
        await conn.execute(_update(table, key, found[0]), found[1])


def _changes(
    key: tuple[str, ...], columns: tuple[str, ...], changed_rows: Sequence[Any]
) -> tuple[tuple[str, ...], list[dict[str, Any]]] | None:
    """One executemany for all changed rows, of every column any of them changed (a step's
    result and the next step's claim in one statement, not one per set of columns: the rows
    are the caller's, read under the session's lock, so a column written unchanged is its
    value): the columns and each row's parameters; None when nothing changed."""
    changed_ones: list[Any] = []
    changed: set[str] = set()
    for row in changed_rows:
        before = row.read_as
        names = {n for n in columns if getattr(row, n) != before[n]}
        if names:
            changed_ones.append(row)
            changed |= names
    if not changed_ones:
        return None
    written = tuple(n for n in columns if n in changed)
    params_list = []
    for row in changed_ones:
        before = row.read_as
        params = {f"v_{n}": getattr(row, n) for n in written}
        params.update({f"k_{n}": before[n] for n in key})
        params_list.append(params)
        before.update({n: getattr(row, n) for n in written})
    return written, params_list


async def insert_session(
    conn: AsyncConnection, session: IntakeSession, steps: list[dict[str, Any]]
) -> None:
    """A new session row (the ORM object's values; it is not added to any ORM session) and its
    steps in one executemany."""
    await conn.execute(_INSERT_SESSION, {n: getattr(session, n) for n in _NEWSESSION_COLUMNS})
    await conn.execute(_INSERT_STEPS, steps)


async def insert_session_on_postgres(
    engine: AsyncEngine, row: IntakeSession, steps: list[dict[str, Any]]
) -> bool:
    """`insert_session` through asyncpg in one round trip (intake.rows_pg); False: the source
    key was started already."""
    values = {n: getattr(row, n) for n in _NEWSESSION_COLUMNS}
    return await rows_pg.insert_session(engine, values, steps, STEP_COLUMNS)


def start_direct(session: AsyncSession) -> SQLiteWriter | AsyncEngine | None:
    """What a session's start may write through around the caller's ORM session: its engine's
    SQLiteWriter on a SQLite file, the engine itself on asyncpg (`insert_session_on_postgres`),
    when that session holds no transaction (on SQLite one that does may hold this process's
    write turn, which the writer would wait for behind it: a deadlock); else None."""
    bind = session.bind
    if session.in_transaction() or not isinstance(bind, AsyncEngine):
        return None
    if bind.dialect.driver == "asyncpg":
        return bind
    return sqlite_writer(bind)


@functools.cache
def _sqlite_start() -> tuple[_Compiled, _Compiled, _Compiled]:
    by_key = select(_SESSIONS.c.id).where(_SESSIONS.c.source_key == bindparam("key"))
    return (
        _compiled(by_key, {"key": _SESSIONS.c.source_key}),
        _compiled(
            _INSERT_SESSION,
            {n: _SESSIONS.c[n] for n in _NEWSESSION_COLUMNS},
            column_keys=list(_NEWSESSION_COLUMNS),
        ),
        _compiled(
            _INSERT_STEPS, {n: _STEPS.c[n] for n in STEP_COLUMNS}, column_keys=list(STEP_COLUMNS)
        ),
    )


def insert_session_on_sqlite(
    session: IntakeSession, steps: list[dict[str, Any]], conn: sqlite3.Connection
) -> str | None:
    """`insert_session` on the SQLiteWriter's thread, inside its BEGIN IMMEDIATE ... COMMIT,
    after the duplicate check of its source key (the same transaction: no other writer, of
    this process or another, can start the same arrival in between). Returns the id of the
    session already started with that key (nothing written), else None."""
    by_key, new_session, new_steps = _sqlite_start()
    if session.source_key is not None:
        found = conn.execute(by_key.sql, by_key.values({"key": session.source_key})).fetchone()
        if found is not None:
            return str(found[0])
    values = {n: getattr(session, n) for n in _NEWSESSION_COLUMNS}
    conn.execute(new_session.sql, new_session.values(values))
    conn.executemany(
        new_steps.sql, [new_steps.values({n: s.get(n) for n in STEP_COLUMNS}) for s in steps]
    )
    return None


async def add_log(conn: AsyncConnection, values: dict[str, Any] | list[dict[str, Any]]) -> None:
    """One agent-log row, or several in one executemany."""
    await conn.execute(_INSERT_LOG, values)


def _read_pg(
    session: Sequence[Any], steps: list[Sequence[Any]]
) -> tuple[SessionRow, list[StepRow]]:
    """Rows from asyncpg's records (intake.rows_pg), as `locked` makes them."""
    row: SessionRow = _read(SessionRow, SESSION_COLUMNS, tuple(session))
    return row, [_read(StepRow, STEP_COLUMNS, tuple(r)) for r in steps]


# ---- a run's whole transaction ----------------------------------------------------------------

# What a run decides on the rows it holds locked: its answer and the agent-log rows to insert.
Decide = Callable[[SessionRow, list[StepRow]], tuple[T, list[dict[str, Any]]]]


async def transact(
    sessions: async_sessionmaker[AsyncSession], session_id: str, decide: Decide[T]
) -> T:
    """Lock the session, read its steps, `decide`, write what it changed, in one transaction
    (raises NoResultFound for no such session; rolls back if `decide` raises)."""
    bind = sessions.kw.get("bind")
    writer = sqlite_writer(bind) if isinstance(bind, AsyncEngine) else None
    if writer is not None:
        return await writer.transaction(functools.partial(_on_sqlite, session_id, decide))
    if isinstance(bind, AsyncEngine) and bind.dialect.driver == "asyncpg":
        return await rows_pg.on_postgres(
            bind,
            session_id,
            decide,
            columns=(SESSION_COLUMNS, STEP_COLUMNS),
            read=_read_pg,
        )
    async with sessions() as session, session.begin():
        conn = await session.connection()
        row, steps = await locked(conn, session_id)
        answer, logs = decide(row, steps)
        if logs:
            await add_log(conn, logs)
        await write(conn, row, steps)
        return answer


# The SQLite dialect the SQLiteWriter's statements are compiled for and bound with (the
# engine's are the same dialect through aiosqlite: the same SQL and column conversions).
_DIALECT = sqlite.dialect()


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement as SQLite text, with its parameters' names in order and their conversions."""

    sql: str
    names: tuple[str, ...]
    convert: tuple[Callable[[Any], Any], ...]

    def values(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(c(params[n]) for n, c in zip(self.names, self.convert, strict=True))


def _compiled(statement: Any, columns: Mapping[str, ColumnElement[Any]], **kw: Any) -> _Compiled:
    compiled = statement.compile(dialect=_DIALECT, **kw)
    names = tuple(compiled.positiontup or ())
    convert = tuple(bind_converter(columns[n], _DIALECT) for n in names)
    return _Compiled(str(compiled), names, convert)


Converters = tuple[Callable[[Any], Any], ...]


@functools.cache
def _sqlite_read() -> tuple[_Compiled, Converters, Converters]:
    """The session-and-steps read, and the conversion of each of its result columns (as they
    come where the type has none): the session's, then a step's."""
    read = _compiled(_SESSION_AND_STEPS, {"sid": _SESSIONS.c.id})
    convert = tuple(
        c.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None) or _as_is
        for c in _SESSION_AND_STEPS.selected_columns
    )
    split = len(SESSION_COLUMNS)
    return read, convert[:split], convert[split:]


def _as_is(value: Any) -> Any:
    return value


def _converted(convert: Converters, values: Sequence[Any]) -> tuple[Any, ...]:
    """`values`, each through its conversion (as many of them as conversions)."""
    return tuple(c(v) for c, v in zip(convert, values, strict=True))


@functools.cache
def _sqlite_update(table: Table, key: tuple[str, ...], columns: tuple[str, ...]) -> _Compiled:
    by_name = {f"k_{n}": table.c[n] for n in key} | {f"v_{n}": table.c[n] for n in columns}
    return _compiled(_update(table, key, columns), by_name)


@functools.cache
def _sqlite_insert_log(columns: tuple[str, ...]) -> _Compiled:
    return _compiled(_INSERT_LOG, {n: _LOGS.c[n] for n in columns}, column_keys=list(columns))


def _on_sqlite(session_id: str, decide: Decide[T], conn: sqlite3.Connection) -> T:
    """`transact` on the SQLiteWriter's thread, inside its BEGIN IMMEDIATE ... COMMIT."""
    read, session_convert, step_convert = _sqlite_read()
    found = conn.execute(read.sql, read.values({"sid": session_id})).fetchall()
    if not found:
        raise NoResultFound(f"no intake session {session_id}")
    # The join repeats the session's columns on every step's row: they are converted once (a
    # session's eight steps had its timestamps parsed eight times per transaction).
    split = len(SESSION_COLUMNS)
    row: SessionRow = _read(
        SessionRow, SESSION_COLUMNS, _converted(session_convert, found[0][:split])
    )
    steps: list[StepRow] = [
        _read(StepRow, STEP_COLUMNS, _converted(step_convert, r[split:])) for r in found
    ]
    answer, logs = decide(row, steps)
    if logs:
        insert_log = _sqlite_insert_log(tuple(logs[0]))
        conn.executemany(insert_log.sql, [insert_log.values(v) for v in logs])
    for table, key, columns, changed in (
        (_SESSIONS, _SESSION_KEY, SESSION_COLUMNS, [row]),
        (_STEPS, _STEP_KEY, STEP_COLUMNS, steps),
    ):
        found_changes = _changes(key, columns, changed)
        if found_changes is not None:
            update_ = _sqlite_update(table, key, found_changes[0])
            conn.executemany(update_.sql, [update_.values(p) for p in found_changes[1]])
    return answer
