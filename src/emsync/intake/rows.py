"""The session and step rows a run's transaction reads and writes, as plain objects moved by
Core statements built once, not ORM instances: each step of a session cost a transaction that
loaded the session and its eight steps through the ORM and flushed them through the unit of
work, which was most of the orchestrator's CPU per session (bench/intake.py). A row remembers
what it was read as, and `write` updates only the columns a run changed, as a flush would."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection

from emsync.intake.models import IntakeAgentLog, IntakeSession, IntakeStep

_SESSIONS: Table = IntakeSession.__table__  # type: ignore[assignment]
_STEPS: Table = IntakeStep.__table__  # type: ignore[assignment]
_LOGS: Table = IntakeAgentLog.__table__  # type: ignore[assignment]


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
    """One executemany for all changed rows, of every column any of them changed (a step's
    result and the next step's claim in one statement, not one per set of columns: the rows
    are the caller's, read under the session's lock, so a column written unchanged is its
    value)."""
    changed_ones: list[Any] = []
    changed: set[str] = set()
    for row in changed_rows:
        before = row.read_as
        names = {n for n in columns if getattr(row, n) != before[n]}
        if names:
            changed_ones.append(row)
            changed |= names
    if not changed_ones:
        return
    written = tuple(n for n in columns if n in changed)
    params_list = []
    for row in changed_ones:
        before = row.read_as
        params = {f"v_{n}": getattr(row, n) for n in written}
        params.update({f"k_{n}": before[n] for n in key})
        params_list.append(params)
        before.update({n: getattr(row, n) for n in written})
    await conn.execute(_update(table, key, written), params_list)


async def insert_session(
    conn: AsyncConnection, session: IntakeSession, steps: list[dict[str, Any]]
) -> None:
    """A new session row (the ORM object's values; it is not added to any ORM session) and its
    steps in one executemany."""
    await conn.execute(_INSERT_SESSION, {n: getattr(session, n) for n in _NEWSESSION_COLUMNS})
    await conn.execute(_INSERT_STEPS, steps)


async def add_log(conn: AsyncConnection, values: dict[str, Any] | list[dict[str, Any]]) -> None:
    """One agent-log row, or several in one executemany."""
    await conn.execute(_INSERT_LOG, values)
