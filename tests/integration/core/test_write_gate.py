"""Transactions and the database's write lock: on SQLite, concurrent read-then-write transactions
all commit (they queue in process instead of failing or polling), readers never wait for a
writer, a writer of another process is still waited for, and the queue moves on after a failed
transaction; on both backends a read-only session cannot write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from emsync.core.db import (
    ReadOnlySessionWrite,
    SQLiteWriter,
    create_engine,
    read_session_factory,
    session_factory,
    sqlite_writer,
    transaction,
)
from emsync.core.settings import Settings

COUNTER = "bench-counter"  # one handoff_feeds row serves as a plain counter


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    async with transaction(session_factory(engine)) as session:
        await session.execute(
            text("INSERT INTO handoff_feeds (hospital_id, last_seq) VALUES (:h, 0)"),
            {"h": COUNTER},
        )
    yield engine
    await engine.dispose()


@pytest.fixture
def sqlite_engine(engine: AsyncEngine, settings: Settings) -> AsyncEngine:
    assert settings.is_sqlite, "mark the test @sqlite_only"
    return engine


# The write gate is SQLite's (one write lock per file); PostgreSQL has row locks instead.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def counter(engine: AsyncEngine) -> int:
    async with read_session_factory(engine)() as session:
        value = await session.scalar(
            text("SELECT last_seq FROM handoff_feeds WHERE hospital_id = :h"), {"h": COUNTER}
        )
    assert value is not None
    return int(value)


@sqlite_only
async def test_concurrent_read_then_write_transactions_all_commit(
    sqlite_engine: AsyncEngine,
) -> None:
    # Each reads the counter, yields to the others, then writes what it read plus one: a lost
    # update or a "database is locked" would show as a count below 60 or an exception.
    sessions = session_factory(sqlite_engine)

    async def increment() -> None:
        async with transaction(sessions) as session:
            seen = await session.scalar(
                text("SELECT last_seq FROM handoff_feeds WHERE hospital_id = :h"), {"h": COUNTER}
            )
            await asyncio.sleep(0.001)
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = :n WHERE hospital_id = :h"),
                {"n": int(seen or 0) + 1, "h": COUNTER},
            )

    await asyncio.gather(*(increment() for _ in range(60)))
    assert await counter(sqlite_engine) == 60


@sqlite_only
async def test_readers_proceed_while_a_writer_holds_the_lock(sqlite_engine: AsyncEngine) -> None:
    writer_holds = asyncio.Event()
    reader_done = asyncio.Event()

    async def writer() -> None:
        async with transaction(session_factory(sqlite_engine)) as session:
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = 7 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )
            writer_holds.set()
            # The writer commits only once the reader has finished: a reader that waited for
            # the writer would never finish, and the wait_for below would time out.
            await asyncio.wait_for(reader_done.wait(), timeout=5)

    async def reader() -> int:
        await writer_holds.wait()
        value = await counter(sqlite_engine)
        reader_done.set()
        return value

    _, seen = await asyncio.gather(writer(), reader())
    assert seen == 0  # the snapshot before the writer's uncommitted change
    assert await counter(sqlite_engine) == 7


@sqlite_only
async def test_writers_queue_behind_a_writer_and_run_after_it(sqlite_engine: AsyncEngine) -> None:
    sessions = session_factory(sqlite_engine)
    order: list[str] = []
    first_holds = asyncio.Event()

    async def first() -> None:
        async with transaction(sessions) as session:
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = 1 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )
            first_holds.set()
            await asyncio.sleep(0.2)
            order.append("first commits")

    async def second() -> None:
        await first_holds.wait()
        async with transaction(sessions) as session:
            await session.execute(  # its transaction begins here, with this first statement
                text("UPDATE handoff_feeds SET last_seq = last_seq + 1 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )
            order.append("second wrote")

    await asyncio.gather(first(), second())
    assert order == ["first commits", "second wrote"]
    assert await counter(sqlite_engine) == 2


@sqlite_only
async def test_the_queue_moves_on_after_a_failed_transaction(sqlite_engine: AsyncEngine) -> None:
    sessions = session_factory(sqlite_engine)

    async def failing() -> None:
        async with transaction(sessions) as session:
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = 99 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )
            raise RuntimeError("the use case failed")

    async def cancelled() -> None:
        async with transaction(sessions) as session:
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = 98 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )
            await asyncio.sleep(60)

    with pytest.raises(RuntimeError):
        await failing()
    task = asyncio.create_task(cancelled())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5), transaction(sessions) as session:
        await session.execute(
            text("UPDATE handoff_feeds SET last_seq = last_seq + 1 WHERE hospital_id = :h"),
            {"h": COUNTER},
        )
    assert await counter(sqlite_engine) == 1  # both failed transactions rolled back


@sqlite_only
async def test_a_writer_of_another_process_is_waited_for(
    sqlite_engine: AsyncEngine, settings: Settings
) -> None:
    # A plain sqlite3 connection stands for another process: it meets SQLite's own lock, and
    # our writer waits for it through busy_timeout instead of failing.
    path = Path(settings.database_url.split("///", 1)[1])
    holding = threading.Event()

    def other_process() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE handoff_feeds SET last_seq = last_seq + 10 WHERE hospital_id = ?",
                (COUNTER,),
            )
            holding.set()
            threading.Event().wait(0.5)
            conn.execute("COMMIT")
        finally:
            conn.close()

    thread = threading.Thread(target=other_process)
    thread.start()
    try:
        assert await asyncio.to_thread(holding.wait, 5)
        async with transaction(session_factory(sqlite_engine)) as session:
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = last_seq + 1 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )
    finally:
        await asyncio.to_thread(thread.join)
    assert await counter(sqlite_engine) == 11


async def test_a_read_only_session_cannot_write(engine: AsyncEngine) -> None:
    # Refused before it reaches the database, on both: on PostgreSQL a read-only session runs
    # in autocommit (no READ ONLY transaction to refuse it), so a write there would stick.
    with pytest.raises(ReadOnlySessionWrite):
        async with transaction(read_session_factory(engine)) as session:
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = 5 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )
    assert await counter(engine) == 0


def _increment(conn: sqlite3.Connection) -> int:
    """SQLiteWriter work: read the counter, write it plus one, return what was written."""
    (seen,) = conn.execute(
        "SELECT last_seq FROM handoff_feeds WHERE hospital_id = ?", (COUNTER,)
    ).fetchone()
    conn.execute("UPDATE handoff_feeds SET last_seq = ? WHERE hospital_id = ?", (seen + 1, COUNTER))
    return int(seen) + 1


def _writer(engine: AsyncEngine) -> SQLiteWriter:
    writer = sqlite_writer(engine)
    assert writer is not None
    return writer


@sqlite_only
async def test_the_sqlite_writer_takes_turns_with_the_engines_writers(
    sqlite_engine: AsyncEngine,
) -> None:
    # Engine sessions and the writer's own connection interleave on one counter: any write
    # that ran outside the shared gate would be a lost update or "database is locked".
    sessions = session_factory(sqlite_engine)
    writer = _writer(sqlite_engine)

    async def through_engine() -> None:
        async with transaction(sessions) as session:
            seen = await session.scalar(
                text("SELECT last_seq FROM handoff_feeds WHERE hospital_id = :h"), {"h": COUNTER}
            )
            await asyncio.sleep(0.001)
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = :n WHERE hospital_id = :h"),
                {"n": int(seen or 0) + 1, "h": COUNTER},
            )

    results = await asyncio.gather(
        *(through_engine() if i % 2 else writer.transaction(_increment) for i in range(60))
    )
    assert await counter(sqlite_engine) == 60
    assert all(isinstance(n, int) for n in results[::2])


@sqlite_only
async def test_the_sqlite_writer_rolls_back_failed_work_and_reconnects_after_dispose(
    sqlite_engine: AsyncEngine,
) -> None:
    writer = _writer(sqlite_engine)

    def write_then_fail(conn: sqlite3.Connection) -> None:
        _increment(conn)
        raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError, match="the batch failed"):
        await writer.transaction(write_then_fail)
    assert await counter(sqlite_engine) == 0  # rolled back
    assert await writer.transaction(_increment) == 1
    # The engine's writers are not left waiting for a turn the failed work never gave back.
    async with asyncio.timeout(5), transaction(session_factory(sqlite_engine)) as session:
        await session.execute(
            text("UPDATE handoff_feeds SET last_seq = last_seq + 1 WHERE hospital_id = :h"),
            {"h": COUNTER},
        )
    await sqlite_engine.dispose()  # closes the writer's connection and thread with the pool
    assert await writer.transaction(_increment) == 3
    assert await counter(sqlite_engine) == 3


@sqlite_only
async def test_a_cancelled_sqlite_writer_transaction_holds_the_turn_until_it_ends(
    sqlite_engine: AsyncEngine,
) -> None:
    writer = _writer(sqlite_engine)
    started = threading.Event()
    release = threading.Event()
    begun: list[str] = []  # what reached SQLite from the engine, in order

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        begun.append(statement)

    def slow(conn: sqlite3.Connection) -> int:
        started.set()
        release.wait(5)
        begun.append("writer work ends")
        return _increment(conn)

    event.listen(sqlite_engine.sync_engine, "before_cursor_execute", record)
    task = asyncio.create_task(writer.transaction(slow))
    assert await asyncio.to_thread(started.wait, 5)
    task.cancel()
    await asyncio.sleep(0.05)

    async def through_engine() -> None:
        async with transaction(session_factory(sqlite_engine)) as session:
            await session.execute(
                text("UPDATE handoff_feeds SET last_seq = last_seq + 1 WHERE hospital_id = :h"),
                {"h": COUNTER},
            )

    # The thread still holds SQLite's write lock: this process's next writer queues for its
    # turn (it does not even BEGIN inside SQLite) and runs once the work has ended.
    follower = asyncio.create_task(through_engine())
    await asyncio.sleep(0.2)
    assert not follower.done()
    assert "BEGIN IMMEDIATE" not in begun
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(follower, 5)
    event.remove(sqlite_engine.sync_engine, "before_cursor_execute", record)
    assert begun.index("writer work ends") < begun.index("BEGIN IMMEDIATE")
    assert await counter(sqlite_engine) == 2  # the cancelled work itself committed


async def test_only_a_sqlite_file_has_a_writer(engine: AsyncEngine, settings: Settings) -> None:
    assert (sqlite_writer(engine) is not None) == settings.is_sqlite
    in_memory = settings.database.model_copy(update={"url": "sqlite+aiosqlite://"})
    memory = create_engine(settings.model_copy(update={"database": in_memory}))
    assert sqlite_writer(memory) is None
    await memory.dispose()
