"""`rows.transact` on PostgreSQL through asyncpg itself: five round trips per step transaction
(BEGIN, the session locked, its steps read, one statement writing every change, COMMIT) instead
of seven through SQLAlchemy (the agent-log INSERT, the steps' UPDATE and the session's were a
statement each), and none of SQLAlchemy's execution per statement. On this machine a round trip
to a local server costs the process more CPU than the statement's work (the loopback send runs
the server's receive in the sender's time), and the step transactions were most of what the
orchestrator cost a session on PostgreSQL (bench/intake.py).

The statements are fixed texts (asyncpg prepares each once per connection); the rows to write
travel as arrays, `unnest`ed by the server. The lock and the read are the same as the
SQLAlchemy path's (intake.rows): the session row locked first, its steps read after the lock is
held."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
R = TypeVar("R")  # intake.rows.SessionRow
S = TypeVar("S")  # intake.rows.StepRow

# What a run's decision may change on the session row (steps.settle_rows, steps.next_move):
# the write sets these, and any other change is refused rather than lost.
SESSION_CHANGES = ("status", "started_at", "clinical_done_at", "finished_at", "updated_at")
_LOG_COLUMNS = (
    ("session_id", "text"),
    ("agent", "text"),
    ("agent_version", "text"),
    ("attempt", "int4"),
    ("outcome", "text"),
    ("rules", "text"),  # JSON text, cast to json in the INSERT
    ("inputs_sealed", "bytea"),
    ("result_sealed", "bytea"),
    ("error", "text"),
    ("started_at", "timestamptz"),
    ("duration_ms", "float8"),
)
_STEP_CHANGES = (
    ("agent", "text"),  # the key, with the session's id
    ("position", "int4"),
    ("clinical", "bool"),
    ("status", "text"),
    ("attempts", "int4"),
    ("claimed_by", "text"),
    ("result_sealed", "bytea"),
    ("error", "text"),
    ("forced", "bool"),
    ("started_at", "timestamptz"),
    ("finished_at", "timestamptz"),
    ("duration_ms", "float8"),
    ("updated_at", "timestamptz"),
)


def _write_sql() -> str:
    """The agent-log rows inserted, the changed steps and the session updated: one statement.
    Parameters: $1 the session's id, $2 whether the session row changed, then the session's
    changeable columns, the log columns' arrays and the step columns' arrays."""
    n = 2
    session_sets = []
    for name in SESSION_CHANGES:
        n += 1
        session_sets.append(f"{name} = ${n}")
    log_arrays, log_select = [], []
    for name, kind in _LOG_COLUMNS:
        n += 1
        log_arrays.append(f"${n}::{kind}[]")
        log_select.append(f"{name}::json" if name == "rules" else name)
    step_arrays = []
    for _name, kind in _STEP_CHANGES:
        n += 1
        step_arrays.append(f"${n}::{kind}[]")
    log_names = ", ".join(name for name, _ in _LOG_COLUMNS)
    step_names = ", ".join(name for name, _ in _STEP_CHANGES)
    step_sets = ", ".join(f"{name} = u.{name}" for name, _ in _STEP_CHANGES[1:])
    return (
        f"WITH logs AS (INSERT INTO intake_agent_logs ({log_names}) "  # noqa: S608 - constants
        f"SELECT {', '.join(log_select)} "
        f"FROM unnest({', '.join(log_arrays)}) AS l({log_names})), "
        f"steps AS (UPDATE intake_steps AS t SET {step_sets} "
        f"FROM unnest({', '.join(step_arrays)}) AS u({step_names}) "
        f"WHERE t.session_id = $1 AND t.agent = u.agent) "
        f"UPDATE intake_sessions SET {', '.join(session_sets)} WHERE id = $1 AND $2"
    )


_WRITE = _write_sql()


@functools.cache
def _reads(session_columns: tuple[str, ...], step_columns: tuple[str, ...]) -> tuple[str, str]:
    names = ", ".join(session_columns)
    lock = f"SELECT {names} FROM intake_sessions WHERE id = $1 FOR UPDATE"  # noqa: S608
    steps = (
        f"SELECT {', '.join(step_columns)} FROM intake_steps "  # noqa: S608 - the model's names
        "WHERE session_id = $1 ORDER BY position"
    )
    return lock, steps


# The caller's rows (intake.rows) made from the session's and its steps' values.
Read = Callable[[Sequence[Any], list[Sequence[Any]]], tuple[R, list[S]]]
Decide = Callable[[R, list[S]], tuple[T, list[dict[str, Any]]]]


async def on_postgres(
    engine: AsyncEngine,
    session_id: str,
    decide: Decide[R, S, T],
    *,
    columns: tuple[tuple[str, ...], tuple[str, ...]],
    read: Read[R, S],
) -> T:
    """`rows.transact` on one of the engine's pooled connections, through asyncpg: `columns`
    (the session's and the steps' read, in order) made into rows by `read`."""
    lock, read_steps = _reads(*columns)
    async with engine.connect() as conn:
        # No statement goes through SQLAlchemy here, so its adapter begins no transaction of
        # its own; the pool's reset on return finds none to roll back.
        raw: Any = (await conn.get_raw_connection()).driver_connection
        async with raw.transaction():
            found = await raw.fetchrow(lock, session_id)
            if found is None:
                raise NoResultFound(f"no intake session {session_id}")
            row, steps = read(found, await raw.fetch(read_steps, session_id))
            answer, logs = decide(row, steps)
            params = _write_params(row, steps, logs)
            if params is not None:
                await raw.execute(_WRITE, session_id, *params)
            return answer


@functools.cache
def _start_sql(session_columns: tuple[str, ...], step_columns: tuple[str, ...]) -> str:
    """The session inserted unless its source key was started already, and its steps with
    it (none when it was not): one statement. Parameters: the session's columns in order,
    then one array per step column."""
    kinds = dict(_STEP_CHANGES) | {"session_id": "text"}
    marks = ", ".join(f"${n}" for n in range(1, len(session_columns) + 1))
    arrays = ", ".join(
        f"${len(session_columns) + n}::{kinds[name]}[]" for n, name in enumerate(step_columns, 1)
    )
    step_names = ", ".join(step_columns)
    return (
        f"WITH s AS (INSERT INTO intake_sessions ({', '.join(session_columns)}) "  # noqa: S608
        f"VALUES ({marks}) ON CONFLICT (source_key) DO NOTHING RETURNING id) "
        f"INSERT INTO intake_steps ({step_names}) SELECT {step_names} "
        f"FROM unnest({arrays}) AS u({step_names}) WHERE EXISTS (SELECT 1 FROM s)"
    )


async def insert_session(
    engine: AsyncEngine,
    session: dict[str, Any],
    steps: list[dict[str, Any]],
    step_columns: tuple[str, ...],
) -> bool:
    """A new session row and its steps, committed in one round trip (a statement of its own:
    no BEGIN, no COMMIT); False, with nothing written, when a session with its source key
    exists (a redelivered arrival: the caller reads that one)."""
    sql = _start_sql(tuple(session), step_columns)
    params = [*session.values(), *([s.get(n) for s in steps] for n in step_columns)]
    async with engine.connect() as conn:
        raw: Any = (await conn.get_raw_connection()).driver_connection
        status: str = await raw.execute(sql, *params)
    return status != "INSERT 0 0"


def _write_params(row: Any, steps: Sequence[Any], logs: list[dict[str, Any]]) -> list[Any] | None:
    """The write's parameters after $1 (None: nothing changed, no statement). The rows'
    `read_as` moves to what is written, as rows.write does."""
    before = row.read_as
    changed = [n for n in before if getattr(row, n) != before[n]]
    if any(n not in SESSION_CHANGES for n in changed):
        raise ValueError(f"a run may not change the session's {changed}")
    moved = [s for s in steps if any(getattr(s, n) != v for n, v in s.read_as.items())]
    if not changed and not moved and not logs:
        return None
    params: list[Any] = [bool(changed), *(getattr(row, n) for n in SESSION_CHANGES)]
    for name, _kind in _LOG_COLUMNS:
        if name == "rules":
            params.append([json.dumps(log[name]) for log in logs])
        else:
            params.append([log[name] for log in logs])
    for name, _kind in _STEP_CHANGES:
        params.append([getattr(s, name) for s in moved])
    before.update({n: getattr(row, n) for n in changed})
    for s in moved:
        s.read_as.update({n: getattr(s, n) for n in s.read_as})
    return params
