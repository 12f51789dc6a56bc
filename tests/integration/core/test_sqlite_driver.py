"""The SQLite driver's connections (core/sqlite_driver.py): each statement crosses to the
connection's thread once, and what SQLAlchemy reads back (rows, rowcount, lastrowid, errors,
executemany) is what plain aiosqlite gives; a connection returned with no transaction open is not
rolled back on its thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.db import (
    create_engine,
    execute_held_back,
    read_session_factory,
    session_factory,
    transaction,
)
from emsync.core.settings import Settings
from emsync.core.sqlite_driver import FewHopConnection

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    async with transaction(session_factory(engine)) as session:
        await session.execute(text("CREATE TABLE driver_probe (id INTEGER PRIMARY KEY, v TEXT)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions run on the connections' threads, in order."""
    seen: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


@sqlite_only
async def test_the_engine_makes_few_hop_connections(engine: AsyncEngine) -> None:
    async with read_session_factory(engine)() as session:
        raw = await (await session.connection()).get_raw_connection()
        assert isinstance(raw.driver_connection, FewHopConnection)


@sqlite_only
async def test_a_select_is_one_hand_off_and_returns_every_row(
    engine: AsyncEngine, hand_offs: list[str]
) -> None:
    async with transaction(session_factory(engine)) as session:
        await session.execute(
            text("INSERT INTO driver_probe (v) VALUES (:v)"), [{"v": f"row {n}"} for n in range(70)]
        )
    async with read_session_factory(engine)() as session:
        await session.execute(text("SELECT 1"))  # BEGIN and the first statement
        hand_offs.clear()
        rows = (await session.execute(text("SELECT id, v FROM driver_probe ORDER BY id"))).all()
        # More rows than aiosqlite's fetch chunk (64): all of them, from one hand-off.
        assert [r.v for r in rows] == [f"row {n}" for n in range(70)]
        assert hand_offs == ["_run"]


@sqlite_only
async def test_rowcount_lastrowid_and_errors_are_the_drivers(engine: AsyncEngine) -> None:
    async with transaction(session_factory(engine)) as session:
        conn = await session.connection()
        inserted = await conn.execute(text("INSERT INTO driver_probe (id, v) VALUES (7, 'a')"))
        assert inserted.lastrowid == 7
        updated = await conn.execute(text("UPDATE driver_probe SET v = 'b' WHERE id >= 0"))
        assert updated.rowcount == 1
        none = await conn.execute(text("UPDATE driver_probe SET v = 'c' WHERE id < 0"))
        assert none.rowcount == 0
    with pytest.raises(IntegrityError):
        async with transaction(session_factory(engine)) as session:
            await session.execute(text("INSERT INTO driver_probe (id, v) VALUES (7, 'again')"))
    async with read_session_factory(engine)() as session:
        assert (await session.execute(text("SELECT v FROM driver_probe"))).scalars().all() == ["b"]


@sqlite_only
async def test_a_session_that_ran_nothing_costs_no_rollback(
    engine: AsyncEngine, hand_offs: list[str]
) -> None:
    async with read_session_factory(engine)() as session:
        await session.execute(text("SELECT 1"))
    hand_offs.clear()
    async with read_session_factory(engine)() as session:
        await session.execute(text("SELECT 1"))
    # The pool's reset of a connection that is in a transaction still rolls it back.
    assert hand_offs.count("rollback") == 1
    hand_offs.clear()
    async with engine.connect():  # checked out and back in, no statement: no transaction
        pass
    assert "rollback" not in hand_offs


@sqlite_only
async def test_a_read_sessions_begin_goes_with_its_first_statement(
    engine: AsyncEngine, hand_offs: list[str]
) -> None:
    async with read_session_factory(engine)() as session:
        await session.execute(text("SELECT 1"))
        # BEGIN and the SELECT in one hand-off, and the transaction is open (a snapshot).
        assert hand_offs == ["_run"]
        raw = await (await session.connection()).get_raw_connection()
        assert isinstance(raw.driver_connection, FewHopConnection)
        assert raw.driver_connection.in_transaction
    assert hand_offs == ["_run", "rollback"]
    hand_offs.clear()
    async with read_session_factory(engine)() as session:
        await session.connection()  # begun, no statement: nothing crossed, nothing to end
    assert hand_offs == []


@sqlite_only
async def test_a_read_session_keeps_one_snapshot_across_statements(engine: AsyncEngine) -> None:
    async with transaction(session_factory(engine)) as session:
        await session.execute(text("INSERT INTO driver_probe (id, v) VALUES (1, 'before')"))
    async with read_session_factory(engine)() as reader:
        first = (await reader.execute(text("SELECT v FROM driver_probe"))).scalars().all()
        async with transaction(session_factory(engine)) as writer:
            await writer.execute(text("UPDATE driver_probe SET v = 'after'"))
        again = (await reader.execute(text("SELECT v FROM driver_probe"))).scalars().all()
        assert first == again == ["before"]
    # A writing session after a read one on the same pooled connection begins as usual.
    async with transaction(session_factory(engine)) as session:
        await session.execute(text("UPDATE driver_probe SET v = 'later'"))
    async with read_session_factory(engine)() as session:
        assert (await session.execute(text("SELECT v FROM driver_probe"))).scalars().all() == [
            "later"
        ]


_PROBE_INSERT = text("INSERT INTO driver_probe (id, v) VALUES (:id, :v)")


@sqlite_only
async def test_a_write_transactions_begin_and_held_back_writes_go_with_its_commit(
    engine: AsyncEngine, hand_offs: list[str]
) -> None:
    async with transaction(session_factory(engine)) as session:
        conn = await session.connection()  # BEGIN IMMEDIATE: held for the next statement
        await execute_held_back(conn, _PROBE_INSERT, {"id": 1, "v": "a"})
        await execute_held_back(conn, _PROBE_INSERT, {"id": 2, "v": "b"})
        assert hand_offs == []
    # BEGIN IMMEDIATE, both INSERTs and COMMIT: one crossing to the connection's thread.
    assert hand_offs == ["_commit"]
    async with read_session_factory(engine)() as session:
        rows = (await session.execute(text("SELECT v FROM driver_probe ORDER BY id"))).scalars()
        assert rows.all() == ["a", "b"]


@sqlite_only
async def test_held_back_writes_run_before_the_next_statement_in_its_hand_off(
    engine: AsyncEngine, hand_offs: list[str]
) -> None:
    async with transaction(session_factory(engine)) as session:
        conn = await session.connection()
        await execute_held_back(conn, _PROBE_INSERT, {"id": 1, "v": "a"})
        seen = (await conn.execute(text("SELECT v FROM driver_probe"))).scalars().all()
        assert seen == ["a"]
        assert hand_offs == ["_run"]


@sqlite_only
async def test_a_held_back_write_that_fails_fails_its_transaction(engine: AsyncEngine) -> None:
    async with transaction(session_factory(engine)) as session:
        await session.execute(_PROBE_INSERT, {"id": 1, "v": "kept"})

    async def duplicate() -> None:
        async with transaction(session_factory(engine)) as session:
            conn = await session.connection()
            await conn.execute(_PROBE_INSERT, {"id": 2, "v": "with it"})
            await execute_held_back(conn, _PROBE_INSERT, {"id": 1, "v": "duplicate"})

    with pytest.raises(IntegrityError):
        await duplicate()
    # Raised at the commit, and nothing of the transaction stayed.
    async with read_session_factory(engine)() as session:
        rows = (await session.execute(text("SELECT v FROM driver_probe ORDER BY id"))).scalars()
        assert rows.all() == ["kept"]
    # The connection is usable after it (the failed transaction was rolled back).
    async with transaction(session_factory(engine)) as session:
        await execute_held_back(await session.connection(), _PROBE_INSERT, {"id": 3, "v": "c"})
    async with read_session_factory(engine)() as session:
        assert (await session.execute(text("SELECT count(*) FROM driver_probe"))).scalar() == 2


@sqlite_only
async def test_a_rollback_drops_held_back_writes(engine: AsyncEngine, hand_offs: list[str]) -> None:
    async with session_factory(engine)() as session:
        await execute_held_back(await session.connection(), _PROBE_INSERT, {"id": 1, "v": "a"})
        await session.rollback()
    assert hand_offs == []  # neither BEGIN nor the INSERT ever crossed
    async with read_session_factory(engine)() as session:
        assert (await session.execute(text("SELECT count(*) FROM driver_probe"))).scalar() == 0


async def test_a_held_back_write_is_written_on_either_database(engine: AsyncEngine) -> None:
    async with transaction(session_factory(engine)) as session:
        await execute_held_back(await session.connection(), _PROBE_INSERT, {"id": 1, "v": "a"})
        # Seen by the same transaction's next read (on SQLite it goes with that read).
        assert (await session.execute(text("SELECT v FROM driver_probe"))).scalar() == "a"
    async with read_session_factory(engine)() as session:
        assert (await session.execute(text("SELECT v FROM driver_probe"))).scalar() == "a"
