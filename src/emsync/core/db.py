"""Database engine and sessions: SQLite (WAL) for the embedded default, PostgreSQL at scale."""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Executable,
    Insert,
    MetaData,
    Table,
    TypeDecorator,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

from emsync.core.background import Periodic
from emsync.core.clock import as_utc
from emsync.core.settings import Settings
from emsync.core.sqlite_driver import deferred, use_few_hop_connections

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_MAX_UTC = datetime.max.replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends: SQLite stores no offset and hands back naive values,
    which would leave the API emitting times without a zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            # Year 1 east of UTC or year 9999 west of it (a "since the beginning" filter): the
            # instant lies beyond what UTC can hold, so the nearest one compares the same way
            # with every stored time.
            return datetime.min.replace(tzinfo=UTC) if value.year == 1 else _MAX_UTC

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        # process_result_value's work in one call per value, after the dialect's own processing
        # (SQLite: text to datetime), kept as SQLAlchemy would chain it: TypeDecorator's chain
        # was three Python calls per value, a fifth of the calls of a 50-row page's rows.
        parse = self.impl_instance.result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            read: datetime | None = value if parse is None or value is None else parse(value)
            if read is None:
                return None
            return read.replace(tzinfo=UTC) if read.tzinfo is None else read.astimezone(UTC)

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


# Execution option that marks a session's connections as read-only (see read_session_factory).
READ_ONLY = "emsync_read_only"
# How long a writer waits for the database's write lock, in this process and across processes.
BUSY_TIMEOUT_SECONDS = 10.0


class ReadOnlySessionWrite(RuntimeError):
    """A session made for reading tried to write: it must come from the writing factory."""


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    pool = {
        "pool_size": settings.database.pool_size,
        "max_overflow": settings.database.max_overflow,
        "pool_timeout": settings.database.pool_timeout_seconds,
    }
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {}  # in memory: one shared connection (StaticPool), no pool to size
        engine = create_async_engine(url, echo=settings.database.echo, **pool)
        savepoints_as_plain_sql(engine.dialect)
        event.listen(engine.sync_engine, "do_connect", use_few_hop_connections)
        gate = SQLiteWriteGate()
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", gate.begin)
        event.listen(engine.sync_engine, "before_cursor_execute", _refuse_writes_when_read_only)
        for returned in ("checkin", "invalidate", "detach"):
            event.listen(engine.sync_engine, returned, gate.release)
        if database and database != ":memory:":
            writer = SQLiteWriter(database, gate, engine.dialect)
            _WRITERS[engine.sync_engine] = writer
            event.listen(engine.sync_engine, "engine_disposed", lambda _engine: writer.close())
        return engine
    engine = create_async_engine(url, echo=settings.database.echo, **pool)
    savepoints_as_plain_sql(engine.dialect)
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_writes_when_read_only)
    _check_liveness(engine)
    return engine


def savepoints_as_plain_sql(dialect: Dialect) -> None:
    """SAVEPOINT, RELEASE and ROLLBACK TO as the dialect writes them, sent as plain SQL.

    SQLAlchemy executes each as a clause it never caches (its name changes: sa_savepoint_N), so
    every savepoint was compiled afresh: in a py-spy profile of bench/handoff.py, compiling
    them was 4% of the server's main thread (issue #16). The statements and their events
    (before_cursor_execute: the SQLite write gate, the read-only check) are the same."""
    # As the compiler writes the name (quoted only if it must be; not `quote`, which keeps every
    # name it has seen).
    named = cast(Callable[[None, str], str], dialect.identifier_preparer.format_savepoint)

    def do_savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"SAVEPOINT {named(None, name)}")

    def do_release_savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {named(None, name)}")

    def do_rollback_to_savepoint(connection: Connection, name: str) -> None:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {named(None, name)}")

    # The engine's own dialect instance: one engine's, not the class of every engine.
    vars(dialect).update(
        do_savepoint=do_savepoint,
        do_release_savepoint=do_release_savepoint,
        do_rollback_to_savepoint=do_rollback_to_savepoint,
    )


# A connection idle in the pool longer than this is pinged before it is handed out: a firewall
# or NAT may have dropped it without a word. One back from use more recently is only checked
# for a close the driver has already seen (the server ending it: a restart, a terminated
# backend), which costs nothing. SQLAlchemy's pool_pre_ping pinged on every checkout: outside
# autocommit that is BEGIN, an empty statement and ROLLBACK, three round trips that were a
# third of the CPU of a one-row GET under load.
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "emsync_idle_since"  # connection info key: when it went back to the pool


def _check_liveness(engine: AsyncEngine) -> None:
    """Instead of pool_pre_ping: see PING_AFTER_IDLE_SECONDS."""
    dialect = engine.dialect

    def returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def check_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        # DisconnectionError makes the pool discard this connection and hand out another.
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None:
            return  # just opened
        is_closed = getattr(record.driver_connection, "is_closed", None)  # asyncpg's
        if is_closed is not None and is_closed():
            raise DisconnectionError("the server closed this pooled connection")
        if is_closed is None or time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS:
            try:
                dialect.do_ping(dbapi_connection)
            except Exception as exc:
                raise DisconnectionError("a pooled connection did not answer a ping") from exc

    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "checkout", check_out)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry | None) -> None:
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    # The driver must not open transactions itself: SQLiteWriteGate.begin does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


# SQLite's own default (1,000 pages) has the committing connection copy the WAL back, with its
# fsyncs, inside that commit: measured as the slowest commits of the ingest at 2,000 readings/s
# (commit p99 21-23 ms with it, 6-7 ms without). WalCheckpointer does that work off the write
# path; this larger threshold is the safety net for processes that do not run it (CLI commands).
WAL_AUTOCHECKPOINT_PAGES = 10_000


def sqlite_file(database_url: str) -> str | None:
    """The file behind a SQLite URL; None for PostgreSQL or an in-memory database."""
    if not database_url.startswith("sqlite"):
        return None
    database = make_url(database_url).database
    return database if database and database != ":memory:" else None


class WalCheckpointer:
    """Background service (SQLite only): `PRAGMA wal_checkpoint(PASSIVE)` every `interval` s on
    its own connection, in a thread, so WAL pages are copied back and synced outside the
    transactions that wrote them. PASSIVE neither waits for nor blocks readers and writers;
    frames it cannot copy yet are left for the next round. Durability is unchanged: a commit is
    in the WAL before it returns, checkpointed or not."""

    name = "db.wal-checkpoint"

    def __init__(self, path: str, interval_seconds: float = 1.0) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._periodic = Periodic(self.name, lambda: interval_seconds, self.checkpoint)

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def checkpoint(self) -> tuple[int, int, int]:
        """SQLite's answer: (busy, WAL frames, frames checkpointed)."""
        return await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> tuple[int, int, int]:
        if self._connection is None:
            # No busy_timeout: a PASSIVE checkpoint never calls the busy handler anyway.
            self._connection = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False
            )
        busy, frames, done = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(done)


_HOLDS_GATE = "emsync_holds_write_gate"  # record_info key: the lock this connection holds


class SQLiteWriteGate:
    """SQLite has one write lock per database. A transaction that may write takes it at BEGIN
    (BEGIN IMMEDIATE): a deferred transaction that reads and then writes must upgrade its
    snapshot, and when another writer committed meanwhile SQLite fails at once with "database
    is locked" (busy_timeout does not apply). Waiting for that lock inside SQLite is unfair and
    slow, though: the busy handler sleeps up to 100 ms between retries, so under load the lock
    sits free while its waiters sleep. Writers of this process therefore queue first on an
    asyncio lock (FIFO, woken the moment it is released) and reach BEGIN IMMEDIATE one at a
    time; other processes still meet SQLite's own lock and its busy_timeout. Read-only sessions
    (READ_ONLY) begin deferred and queue for nothing: in WAL mode readers never wait for the
    writer. The lock is held from BEGIN until the connection goes back to the pool, which a
    session does as soon as it commits or rolls back."""

    def __init__(self, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        # asyncio locks belong to one event loop; an engine may be used from several in turn.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def begin(self, conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        entry = conn.connection
        # The aiosqlite connection behind SQLAlchemy's adapter; this event runs inside the
        # greenlet of the awaiting session, so run_async can wait for the lock.
        driver = cast(AdaptedConnection, entry.dbapi_connection)
        driver.run_async(lambda _: self._acquire(lock))
        info = entry.record_info
        assert info is not None  # a checked-out connection belongs to a pool record
        info[_HOLDS_GATE] = lock
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._release(info)
            raise

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """This process's write turn, for a writer outside the engine's pool (SQLiteWriter)."""
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        await self._acquire(lock)
        try:
            yield
        finally:
            lock.release()

    async def _acquire(self, lock: asyncio.Lock) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await lock.acquire()
        except TimeoutError:
            # What SQLite itself says when busy_timeout runs out, so callers see one error.
            raise sqlite3.OperationalError(
                f"database is locked: no write lock within {self.timeout:g} s "
                "(this process's writers queue for it in turn)"
            ) from None

    def release(self, _dbapi_connection: Any, record: ConnectionPoolEntry, *_: Any) -> None:
        self._release(record.record_info)

    @staticmethod
    def _release(info: dict[Any, Any] | None) -> None:
        lock = info.pop(_HOLDS_GATE, None) if info is not None else None
        if lock is not None:
            lock.release()


T = TypeVar("T")


def commit_work(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """In a transaction `conn` has begun: `work(conn)`, then COMMIT, or ROLLBACK if it raised."""
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class SQLiteWriter:
    """A connection of its own, on a thread of its own, for a hot path's write transactions.

    Through SQLAlchemy's aiosqlite adapter, one ingest batch (check out, begin, insert, update,
    commit, check in) was about 22 hand-offs between the event loop and the driver's thread:
    about 2.5 ms of CPU per batch whatever its size (in process, 290 us per reading in batches
    of 10 against 50 in batches of 1,000), which at 2,000 readings/s in small batches was most
    of the ingest's time. Here a whole transaction is one hand-off: `work` runs on the writer's
    thread between BEGIN IMMEDIATE and COMMIT (ROLLBACK if it raises). It takes its turn with
    the engine's writers through the same SQLiteWriteGate, and its connection has the engine's
    pragmas. Closed with the engine (`dispose`); the next transaction reconnects.
    """

    def __init__(self, path: str, gate: SQLiteWriteGate, dialect: Dialect) -> None:
        self._path = path
        self._gate = gate
        self.dialect = dialect  # the engine's: how its column types store values
        self._connection: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def path(self) -> str:
        """The database file (a writer of another kind on the same database opens this)."""
        return self._path

    @property
    def gate(self) -> SQLiteWriteGate:
        """This process's write turn, which every writer of the database takes."""
        return self._gate

    def converter(self, column: ColumnElement[Any]) -> Callable[[Any], Any]:
        """`bind_converter` for this engine: rows written here are stored as the ORM stores them."""
        return bind_converter(column, self.dialect)

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        async with self._gate.held():
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="emsync-sqlite-writer")
            future = asyncio.get_running_loop().run_in_executor(self._executor, self._run, work)
            try:
                return await asyncio.shield(future)
            finally:
                if not future.done():
                    # Cancelled while the thread holds SQLite's write lock: this process's next
                    # writer gets its turn only once the transaction has ended, either way.
                    await asyncio.wait({future})

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            _sqlite_pragmas(conn, None)
            self._connection = conn
        conn.execute("BEGIN IMMEDIATE")
        return commit_work(conn, work)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)  # idle at shutdown: its last transaction has ended
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# Rows per statement of a MultiRowInsert: powers of two up to 512, so a batch is a few
# statements with at most ten distinct SQL texts (each prepared once, then from sqlite3's cache),
# within SQLite's limit on bound values (999 before 3.32).
_SQLITE_MAX_ROWS = 512
_SQLITE_MAX_VALUES = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


class MultiRowInsert:
    """`INSERT INTO table (columns) VALUES (...), (...), ...` for a SQLiteWriter's thread.

    sqlite3's executemany steps once per row, and gives up and takes back the GIL each time;
    while another thread is busy each take-back can wait out the interpreter's 5 ms switch
    interval (1,000 rows: 8 s beside a CPU-bound thread, against 86 ms as multi-row
    statements). `suffix` follows each statement (e.g. "ON CONFLICT DO NOTHING").
    """

    def __init__(self, table: str, columns: Sequence[str], suffix: str = "") -> None:
        names = ", ".join(columns)
        row = "(" + ", ".join("?" for _ in columns) + ")"
        max_rows = max(1, min(_SQLITE_MAX_ROWS, _SQLITE_MAX_VALUES // len(columns)))
        self._sql = {
            size: f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608 - names are the caller's constants, values are bound
            + ", ".join(row for _ in range(size))
            + (f" {suffix}" if suffix else "")
            for size in (2**i for i in range(max_rows.bit_length()))
        }
        self._max = 1 << (max_rows.bit_length() - 1)

    def statements(self, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, tuple[Any, ...]]]:
        start = 0
        while start < len(rows):
            # The largest statement that fits what is left: 1,000 rows are 6 statements.
            size = min(self._max, 1 << ((len(rows) - start).bit_length() - 1))
            yield self._sql[size], tuple(v for row in rows[start : start + size] for v in row)
            start += size

    def execute(self, conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Rows inserted (those a conflict clause skipped not counted)."""
        return sum(conn.execute(sql, values).rowcount for sql, values in self.statements(rows))


_WRITERS: weakref.WeakKeyDictionary[Engine, SQLiteWriter] = weakref.WeakKeyDictionary()


def bind_converter(column: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """What `dialect` does to a value bound to `column` (e.g. a UTCDateTime to SQLite's text
    format; the dialect's own implementation of the type, where a bare `DateTime` would leave it
    to sqlite3's adapter), for statements written by hand that must store or compare values
    exactly as the ORM does."""
    convert = column.type.dialect_impl(dialect).bind_processor(dialect)
    return convert if convert is not None else _unchanged


def _unchanged(value: Any) -> Any:
    return value


def sqlite_writer(engine: AsyncEngine) -> SQLiteWriter | None:
    """The engine's SQLiteWriter: None for PostgreSQL and for an in-memory SQLite database."""
    return _WRITERS.get(engine.sync_engine)


def _refuse_writes_when_read_only(
    conn: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    # A write in a deferred transaction would bypass the gate and could fail with "database is
    # locked" only under load; failing every time instead shows the mistake in the first test.
    if conn.get_execution_options().get(READ_ONLY) and _writes(statement):
        raise ReadOnlySessionWrite(
            "a read-only session tried to write; use the writing session factory"
        )


_READING_VERBS = frozenset(
    {"SELECT", "WITH", "PRAGMA", "EXPLAIN", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
)


# A row-locking read (PostgreSQL; SQLite has no such clause) is a writer's: in a read-only
# session's autocommit its lock would end with the statement, silently locking nothing.
_LOCKING_READ = re.compile(r"\bFOR (?:NO KEY |KEY )?(?:UPDATE|SHARE)\b")


# Memoised: the same few hundred statements (SQLAlchemy's compiled cache) come again and again,
# and splitting and searching each was ~1.5 % of the event loop's CPU in a one-row GET.
@functools.lru_cache(maxsize=4096)
def _writes(statement: str) -> bool:
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return verb not in _READING_VERBS or _LOCKING_READ.search(statement) is not None


# The dialects' INSERT with ON CONFLICT (the generic Insert has none).
UpsertInsert = postgresql.Insert | sqlite.Insert


def dialect_insert(dialect_name: str) -> Callable[[Any], UpsertInsert]:
    """The dialect's INSERT construct (it has ON CONFLICT), on PostgreSQL and SQLite alike."""
    return pg_insert if dialect_name == "postgresql" else sqlite_insert


def insert_ignoring_conflicts(table: Table, dialect_name: str) -> Insert:
    """INSERT that skips rows violating a unique constraint, on SQLite and PostgreSQL alike."""
    return dialect_insert(dialect_name)(table).on_conflict_do_nothing()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that may write (on SQLite: queued for the write lock at their first statement)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read: they never wait for a writer (SQLite: deferred BEGIN in WAL
    mode; PostgreSQL: autocommit, each statement on its own), and any write they try fails."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        # No BEGIN READ ONLY ... ROLLBACK around the statements: two of a one-row read's three
        # round trips. Each statement is its own snapshot either way (READ COMMITTED), and
        # `_refuse_writes_when_read_only` refuses a write as it does on SQLite.
        options["isolation_level"] = "AUTOCOMMIT"
    return async_sessionmaker(engine.execution_options(**options), expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on any error."""
    async with sessions() as session, session.begin():
        yield session


async def execute_held_back(conn: AsyncConnection, statement: Executable, parameters: Any) -> None:
    """Execute a write whose outcome nobody reads (an append-only INSERT: no rowcount, rows or
    generated key wanted). On SQLite it crosses to the connection's thread with the
    transaction's next statement or its commit, not on its own (core/sqlite_driver.py: each
    crossing cost ~0.2 ms of CPU, most of a small write's); an error it meets fails the
    transaction there. On PostgreSQL it runs now, as `conn.execute` would."""
    with deferred():
        await conn.execute(statement, parameters)
