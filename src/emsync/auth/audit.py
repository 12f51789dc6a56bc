"""Appending to and verifying the audit log.

Appends go through one writer (group commit): every entry queued while the previous batch was
being written is chained and committed in a single transaction, so under load a hundred requests
share one BEGIN ... COMMIT instead of queueing one by one for the database's write lock. A single
writer at a time (plus the PostgreSQL advisory lock across processes) keeps the chain from
forking. `append` still returns only once its entry is committed, and no timer holds a batch back:
an entry waits at most for the batch ahead of it. What a crash can lose is therefore unchanged:
entries of requests whose own transaction committed but whose audit batch had not yet, the same
window a per-request transaction has (see `RequestContextMiddleware` for when responses go out).

On a SQLite file a batch is one transaction on the engine's SQLiteWriter (given as `writer`):
one hand-off to its thread and multi-row INSERTs, as the telemetry ingest writes. Through a
pooled aiosqlite session a batch was some six hand-offs, each waiting for a turn of an event
loop busy with the requests being audited, all of them holding the process's write gate: with
50 dashboards (bench/ingest.py --api-load) an audit batch held it 30-130 ms, and the telemetry
batches queued behind it.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.auth import checkpoints
from emsync.auth.chain import GENESIS, ChainedEntry, ChainReport, entry_hash, verify_chain
from emsync.auth.checkpoints import AuditKey, Checkpoint
from emsync.auth.models import AuditEntry
from emsync.core.clock import Clock, as_utc
from emsync.core.db import MultiRowInsert, SQLiteWriter

# Any constant works: it names the PostgreSQL advisory lock that serializes appends.
_AUDIT_LOCK_KEY = 0x454D5359
_TABLE = cast(Table, AuditEntry.__table__)
_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "target",
    "request_id",
    "outcome",
    "prev_hash",
    "hash",
    "key_id",
)
# Built once: each batch (one per request or so, under light load) built them anew.
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
_INSERT = insert(_TABLE)
_SQLITE_HEAD = f"SELECT seq, hash FROM {_TABLE.name} ORDER BY seq DESC LIMIT 1"  # noqa: S608 - the model's table name


@dataclass(frozen=True, slots=True)
class AuditRecord:
    actor: str
    action: str
    target: str
    request_id: str
    outcome: str


class AuditLog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        key: AuditKey | None = None,
        max_batch: int = 500,
        writer: SQLiteWriter | None = None,
    ) -> None:
        self._key = key
        # SQLite file: each batch is one transaction on the engine's SQLiteWriter (see module).
        self._direct = writer
        self._sqlite_insert = None if writer is None else MultiRowInsert(_TABLE.name, _COLUMNS)
        self._convert_at = None if writer is None else writer.converter(_TABLE.c.at)
        self._sessions = sessions
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, record: AuditRecord) -> None:
        """Return once the entry is committed; raise what the write of its batch raised."""
        loop = asyncio.get_running_loop()
        queued = _Queued(record, as_utc(self._clock()), loop.create_future())
        self._queue.append(queued)
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_queued(), name="audit-writer")
        # Shielded: a request cancelled while waiting is still audited; its entry stays queued.
        await asyncio.shield(queued.done)

    async def _write_queued(self) -> None:
        """Write batches until the queue is empty, then end (no task outlives the work)."""
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await self._write(batch)
            except Exception as exc:  # noqa: BLE001 - handed to every request in the batch
                for queued in batch:
                    if not queued.done.done():
                        queued.done.set_exception(exc)
            except BaseException:
                for queued in [*batch, *self._queue]:
                    queued.done.cancel()
                self._queue.clear()
                raise
            else:
                for queued in batch:
                    if not queued.done.done():
                        queued.done.set_result(None)

    async def _write(self, batch: Sequence[_Queued]) -> None:
        if self._direct is not None:
            await self._direct.transaction(functools.partial(self._write_sqlite, batch))
            return
        # Core statements on the session's connection: the entries are plain rows written once,
        # so the ORM's identity map and unit of work would only add work to every request.
        async with self._sessions() as session, session.begin():
            conn = await session.connection()
            if conn.dialect.name == "postgresql":
                await conn.execute(_LOCK, {"k": _AUDIT_LOCK_KEY})
            head = (await conn.execute(_HEAD)).first()
            rows = self._chained(batch, head)
            await conn.execute(_INSERT, [dict(zip(_COLUMNS, r, strict=True)) for r in rows])

    def _write_sqlite(self, batch: Sequence[_Queued], conn: sqlite3.Connection) -> None:
        """The batch as one transaction on the SQLiteWriter's thread (see AuditLog)."""
        assert self._sqlite_insert is not None
        assert self._convert_at is not None
        head = conn.execute(_SQLITE_HEAD).fetchone()
        convert = self._convert_at
        rows = [(seq, convert(at), *rest) for seq, at, *rest in self._chained(batch, head)]
        self._sqlite_insert.execute(conn, rows)

    def _chained(self, batch: Sequence[_Queued], head: Any) -> list[tuple[Any, ...]]:
        """The batch's rows (in _COLUMNS order), chained after `head` (seq, hash; None: empty)."""
        seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
        key = None if self._key is None else self._key.secret
        key_id = None if self._key is None else self._key.key_id
        rows = []
        for queued in batch:
            record = queued.record
            seq += 1
            digest = entry_hash(
                seq=seq,
                at=queued.at,
                actor=record.actor,
                action=record.action,
                target=record.target,
                request_id=record.request_id,
                outcome=record.outcome,
                prev_hash=prev,
                key=key,
            )
            rows.append(
                (
                    seq,
                    queued.at,
                    record.actor,
                    record.action,
                    record.target,
                    record.request_id,
                    record.outcome,
                    prev,
                    digest,
                    key_id,
                )
            )
            prev = digest
        return rows


@dataclass(frozen=True, slots=True)
class _Queued:
    record: AuditRecord
    at: datetime
    done: asyncio.Future[None]


async def list_entries(
    *,
    session: AsyncSession,
    limit: int,
    after_seq: int = 0,
    actor: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    failures_only: bool = False,
    newest_first: bool = False,
) -> Sequence[AuditEntry]:
    """Entries after `after_seq` (oldest first), or before it when `newest_first` (0: from the
    head), filtered by actor, time, a piece of the action text and refused requests."""
    stmt = select(AuditEntry)
    if newest_first:
        if after_seq:
            stmt = stmt.where(AuditEntry.seq < after_seq)
    else:
        stmt = stmt.where(AuditEntry.seq > after_seq)
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor == actor)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if action:
        stmt = stmt.where(AuditEntry.action.contains(action, autoescape=True))
    if failures_only:
        stmt = stmt.where(AuditEntry.outcome.startswith("failure"))
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    return (await session.scalars(stmt.order_by(order).limit(limit))).all()


async def verify(
    *,
    session: AsyncSession,
    key: AuditKey | None = None,
    checkpoints_seen: Sequence[Checkpoint | None] = (),
    batch: int = 5000,
) -> ChainReport:
    """The chain recomputed under `key`, then held against the signed checkpoints, and on
    PostgreSQL the append-only trigger checked to be in force."""
    report = await _verify_chain(session=session, key=key, batch=batch)
    if not report.ok:
        return report
    problem = None
    if checkpoints_seen and key is not None:
        seqs = {cp.seq for cp in checkpoints_seen if cp is not None}
        rows = await session.execute(
            select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.seq.in_(seqs))
        )
        hashes = {int(s): str(h) for s, h in rows.all()}
        problem = checkpoints.check(checkpoints_seen, key, hashes, report.entries)
    if problem is None:
        problem = await _trigger_problem(session)
    if problem is None:
        return report
    return ChainReport(report.entries, report.head_hash, None, problem, report.unkeyed)


async def _trigger_problem(session: AsyncSession) -> str | None:
    if (await session.connection()).dialect.name != "postgresql":
        return None
    state = await session.scalar(
        text("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_append_only'")
    )
    if isinstance(state, bytes):  # PostgreSQL's "char" type comes back as bytes
        state = state.decode()
    if state != "A":  # ENABLE ALWAYS: fires also under session_replication_role = replica
        return f"the append-only trigger is not enforced (pg_trigger.tgenabled = {state!r})"
    return None


async def _verify_chain(*, session: AsyncSession, key: AuditKey | None, batch: int) -> ChainReport:
    async def entries() -> list[ChainedEntry]:
        out: list[ChainedEntry] = []
        last = 0
        while True:
            rows = (
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.seq > last)
                    .order_by(AuditEntry.seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return out
            out.extend(
                ChainedEntry(
                    seq=r.seq,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    target=r.target,
                    request_id=r.request_id,
                    outcome=r.outcome,
                    prev_hash=r.prev_hash,
                    hash=r.hash,
                    key_id=r.key_id,
                )
                for r in rows
            )
            last = rows[-1].seq

    return verify_chain(await entries(), keys=None if key is None else key.keys)
