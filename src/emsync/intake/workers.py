"""Several intake workers on one database: heartbeats, and a live worker taking over the
unfinished runs of a dead one.

DBOS (self-hosted) recovers at launch only the PENDING workflows of the launching process's own
executor id and application version: a worker that died and never came back (or came back
under another id) left its runs to nobody. So each worker records a heartbeat in
`intake_workers` every `worker_heartbeat_seconds`, and in the same round looks for workers
silent past `worker_dead_after_seconds`. It claims a silent worker's row with a conditional
UPDATE (still silent, not claimed in the last `worker_dead_after_seconds`): on PostgreSQL a
second survivor's UPDATE waits for the first's row lock, then finds the row claimed and changes
nothing, so one survivor takes over. The survivor then moves the dead worker's PENDING
workflows back to DBOS's internal queue in one statement guarded the same way as DBOS's own
`reenqueue_for_recovery` (status PENDING, executor the dead one), and each is dequeued by
exactly one live worker (DBOS's atomic ENQUEUED → PENDING). A run taken over keeps its workflow
id, so its step claims (`<workflow id>#<try>`) and its effects' idempotency keys are the same:
each step's effects stay exactly once (tests/integration/intake_engine/test_takeover.py).

A claim expires after `worker_dead_after_seconds`, so a survivor that dies half way through a
takeover leaves it to the next one; taking over again what was already taken moves nothing.

Runs are stamped with `WORKFLOW_VERSION`, not DBOS's default hash of the workflow functions'
source: with the hash, any change of those functions (or of DBOS) left the runs started before
an upgrade unrecoverable. Runs of an older version that this code replays (`REPLAYS`) are
adopted: this worker's own at launch, a dead worker's with the rest (docs/intake.md,
"Upgrades").
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from dbos import DBOSConfig
from dbos._dbos import _get_dbos_instance
from dbos._serialization import DBOSDefaultSerializer
from dbos._sys_db import SystemDatabase
from dbos._utils import INTERNAL_QUEUE_NAME
from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.background import Periodic
from emsync.core.clock import as_utc
from emsync.core.db import sqlite_file
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.intake.metrics import IntakeMetrics
from emsync.intake.models import IntakeWorker

log = structlog.get_logger("emsync.intake")

# DBOS's application_version of every intake run (not DBOS's default, a hash of the workflow
# functions' source, which any edit changed). The workflows re-read each step's state from
# intake_steps, so most changes replay a half-done run fine; a change that makes a run take other
# DBOS steps (another order, other names, a sleep more or less) does not: then bump the number
# and set REPLAYS to the new version alone, and drain the old runs with workers of the old
# version (docs/intake.md, "Upgrades").
VERSION_PREFIX = "intake-"
# intake-1 (and DBOS's hash before the pin) had a DBOS step per try (`intake.attempt`) and one
# `intake.advance` per step: a half-done intake-1 run replayed by this code would fail on the
# first checkpoint that no longer matches (DBOSUnexpectedStepError). intake-2 had no DBOS step
# per try and one `intake.advance` up to the end or a failed try, DBOS sleeps for the backoff and
# an `intake.dead_letter` step. intake-3 takes no DBOS step at all: the run reads where it stands
# from the step rows (a failed try's row says it is in its retries, and when the backoff ends).
# A run that takes no step meets no checkpoint, so this code replays an intake-2 run too (its
# checkpoints are left unread). tests/unit/intake/test_workflow_versions.py fails when the
# workflow functions change without a new decision.
WORKFLOW_VERSION = f"{VERSION_PREFIX}3"
# Versions whose half-done runs this code replays, adopted at launch and in a takeover; a None
# would stand for runs stamped with DBOS's hash (before the pin). Runs of any other version are
# left to workers of their version (a takeover queues them again under their own version).
REPLAYS: tuple[str | None, ...] = (WORKFLOW_VERSION, f"{VERSION_PREFIX}2")
# Rows of workers dead this long, already taken over, are deleted (ops view history).
FORGET_AFTER = timedelta(days=1)


class Workers:
    """This worker's heartbeat and the takeover of dead workers' runs (a background loop)."""

    name = "intake-workers"

    def __init__(
        self,
        runtime: Runtime,
        executor_id: str,
        launch: Callable[[], Awaitable[None]],
    ) -> None:
        self.runtime = runtime
        self.executor_id = executor_id
        self._launch = launch
        self.metrics = runtime.get(IntakeMetrics)
        config = runtime.settings.intake_engine
        self._loop = Periodic("intake-workers", lambda: config.worker_heartbeat_seconds, self.round)
        # This worker's unfinished runs as last written to its row (written again on a change).
        self._in_flight = 0

    async def start(self) -> None:
        """Record this worker before it launches DBOS: no run of its id exists without a row."""
        await self.beat(starting=True)
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def round(self) -> None:
        """One heartbeat, then take over whoever stopped beating."""
        await self.beat()
        if _dbos_launched():
            # After the heartbeat: a slow or failing read of DBOS's tables never delays it.
            pending = await asyncio.to_thread(_pending_by_executor)
            await self.record_in_flight(pending.get(self.executor_id, 0))
            await self.notice_unknown(pending)
        for executor_id, first in await self.claim_dead():
            await self.take_over(executor_id, first=first)
        await self.forget()

    # -- heartbeats

    async def beat(self, *, starting: bool = False) -> None:
        now = self.runtime.clock()
        values: dict[str, object] = {
            "heartbeat_at": now,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        if starting:
            values["started_at"] = now
        async with self.runtime.sessions() as session, session.begin():
            result = await session.execute(
                update(IntakeWorker)
                .where(IntakeWorker.executor_id == self.executor_id)
                .values(**values)
            )
            if _rowcount(result) == 0:
                session.add(
                    IntakeWorker(
                        executor_id=self.executor_id,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        started_at=now,
                        heartbeat_at=now,
                        runs_taken_over=0,
                    )
                )

    async def record_in_flight(self, runs: int) -> None:
        """This worker's unfinished runs on its row, for the ops view (only when it changed)."""
        if runs == self._in_flight:
            return
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(
                update(IntakeWorker)
                .where(IntakeWorker.executor_id == self.executor_id)
                .values(runs_in_flight=runs)
            )
        self._in_flight = runs

    async def notice_unknown(self, pending: dict[str, int]) -> None:
        """Executors with unfinished runs (`pending`, by executor id) and no row (a version
        before heartbeats, an executor id changed by a new host name or port): first seen now,
        taken over if none of them beats within `worker_dead_after_seconds`."""
        owners = set(pending)
        if not owners:
            return
        async with self.runtime.read_sessions() as session:
            known = set(
                await session.scalars(
                    select(IntakeWorker.executor_id).where(IntakeWorker.executor_id.in_(owners))
                )
            )
        now = self.runtime.clock()
        for executor_id in owners - known - {self.executor_id}:
            try:
                async with self.runtime.sessions() as session, session.begin():
                    session.add(
                        IntakeWorker(
                            executor_id=executor_id,
                            host="",
                            pid=0,
                            started_at=now,
                            heartbeat_at=now,
                            runs_taken_over=0,
                            runs_in_flight=pending[executor_id],
                        )
                    )
            except IntegrityError:
                pass  # another worker noticed it first

    # -- takeover

    async def claim_dead(self) -> list[tuple[str, bool]]:
        """The dead workers this worker won, each with whether it is the first claim since
        the worker's last heartbeat (a takeover) or a repeat (an expired claim)."""
        now = self.runtime.clock()
        cutoff = now - timedelta(
            seconds=self.runtime.settings.intake_engine.worker_dead_after_seconds
        )
        claimable = (
            IntakeWorker.executor_id != self.executor_id,
            IntakeWorker.heartbeat_at < cutoff,
            or_(IntakeWorker.taken_over_at.is_(None), IntakeWorker.taken_over_at < cutoff),
        )
        won: list[tuple[str, bool]] = []
        async with self.runtime.sessions() as session, session.begin():
            candidates = (
                await session.execute(
                    select(
                        IntakeWorker.executor_id,
                        IntakeWorker.heartbeat_at,
                        IntakeWorker.taken_over_at,
                    ).where(*claimable)
                )
            ).all()
            for executor_id, heartbeat_at, taken_over_at in candidates:
                result = await session.execute(
                    update(IntakeWorker)
                    .where(IntakeWorker.executor_id == executor_id, *claimable)
                    .values(taken_over_by=self.executor_id, taken_over_at=now)
                )
                if _rowcount(result) == 1:
                    won.append((executor_id, _first_claim(heartbeat_at, taken_over_at)))
        return won

    async def take_over(self, executor_id: str, *, first: bool) -> int:
        """Queue the dead worker's unfinished runs again (any version); live workers run them."""
        await self._launch()
        moved = await asyncio.to_thread(_requeue, executor_id, own=False)
        # The dead worker holds no run now (all moved, now or by an earlier takeover): its
        # last heartbeat's count would show runs nobody runs.
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(
                update(IntakeWorker)
                .where(IntakeWorker.executor_id == executor_id)
                .values(runs_taken_over=IntakeWorker.runs_taken_over + moved, runs_in_flight=0)
            )
        if moved:
            self.metrics.runs_taken_over.inc(moved)
        if first:
            self.metrics.takeovers.inc()
        if first or moved:
            log.warning(
                "intake worker taken over", dead=executor_id, by=self.executor_id, runs=moved
            )
        return moved

    async def adopt_own(self) -> int:
        """At launch: this worker's own unfinished runs of another version (begun before an
        upgrade), which DBOS's recovery at launch leaves alone."""
        moved = await asyncio.to_thread(_requeue, self.executor_id, own=True)
        if moved:
            self.metrics.runs_taken_over.inc(moved)
            log.warning("intake runs of an older version resumed", runs=moved)
        return moved

    async def forget(self) -> None:
        cutoff = self.runtime.clock() - FORGET_AFTER
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(
                delete(IntakeWorker).where(
                    IntakeWorker.heartbeat_at < cutoff, IntakeWorker.taken_over_at.is_not(None)
                )
            )


async def seen(session: AsyncSession) -> list[IntakeWorker]:
    """Every worker recorded, the most recent heartbeat first (the ops view)."""
    rows = await session.scalars(select(IntakeWorker).order_by(IntakeWorker.heartbeat_at.desc()))
    return list(rows)


def alive(worker: IntakeWorker, *, now: datetime, dead_after: float) -> bool:
    return silent_for(worker, now=now) <= dead_after


def silent_for(worker: IntakeWorker, *, now: datetime) -> float:
    """Seconds since its last heartbeat, by the server's clock (not the reader's); 0 for a
    heartbeat stamped ahead of this host's clock."""
    return max(0.0, (now - as_utc(worker.heartbeat_at)).total_seconds())


def _first_claim(heartbeat_at: datetime, taken_over_at: datetime | None) -> bool:
    return taken_over_at is None or as_utc(taken_over_at) < as_utc(heartbeat_at)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# ---- DBOS's system tables (blocking: called in a thread) --------------------------------------


def _dbos_launched() -> bool:
    try:
        return bool(_get_dbos_instance()._launched)
    except Exception:  # noqa: BLE001 - no DBOS instance in this process
        return False


def _pending_by_executor() -> dict[str, int]:
    """How many PENDING runs of this application each executor id holds."""
    sys_db = _get_dbos_instance()._sys_db
    ws = sys_db.tables.workflow_status
    with sys_db.engine.begin() as connection:
        rows = connection.execute(
            sa.select(ws.c.executor_id, sa.func.count())
            .where(
                ws.c.status == "PENDING",
                sys_db._name_filter(ws.c.application_name, sys_db.app_name),
            )
            .group_by(ws.c.executor_id)
        ).all()
        return {str(executor): int(runs) for executor, runs in rows if executor is not None}


def _replayable(version: sa.ColumnElement[str | None]) -> sa.ColumnElement[bool]:
    """Runs of a version this code replays (REPLAYS); None stands for DBOS's hash versions."""
    pinned = [str(v) for v in REPLAYS if v is not None]
    accepted = [version.in_(pinned)]
    if None in REPLAYS:
        accepted += [version.is_(None), sa.not_(version.like(f"{VERSION_PREFIX}%"))]
    return or_(*accepted)


def _requeue(executor_id: str, *, own: bool) -> int:
    """Move an executor's PENDING runs to DBOS's internal queue: DBOS 3.4's
    `reenqueue_for_recovery` for all of them at once, the runs this code replays stamped with
    its version (a run of another version keeps it, for a worker of that version to dequeue).
    The status and executor predicates make it a no-op for a run another worker already took.
    `own`: this worker's runs at launch, only those of another version it replays (DBOS's
    recovery at launch takes the rest)."""
    sys_db = _get_dbos_instance()._sys_db
    ws = sys_db.tables.workflow_status
    version = ws.c.application_version
    where = [
        ws.c.status == "PENDING",
        ws.c.executor_id == executor_id,
        sys_db._name_filter(ws.c.application_name, sys_db.app_name),
    ]
    if own:
        where += [or_(version.is_(None), version != WORKFLOW_VERSION), _replayable(version)]
    with sys_db.engine.begin() as connection:
        result = connection.execute(
            sa.update(ws)
            .where(*where)
            .values(
                status="ENQUEUED",
                owner_xid=None,
                started_at_epoch_ms=None,
                updated_at=sys_db._now_ms_sql(),
                queue_name=sa.func.coalesce(ws.c.queue_name, INTERNAL_QUEUE_NAME),
                application_version=sa.case(
                    (_replayable(version), WORKFLOW_VERSION), else_=version
                ),
            )
        )
        return int(result.rowcount or 0)


# ---- where DBOS runs: this worker's executor id, the system database beside the app's -----


def executor_id(settings: Settings) -> str:
    """This worker's DBOS executor id: DBOS recovers at launch the unfinished workflows of its
    own id, so it must be the same after a restart and differ between workers sharing a
    PostgreSQL database. Unset, the host name and HTTP port (each worker on a host has its own)."""
    configured = settings.intake_engine.executor_id
    return configured or f"{socket.gethostname()}:{settings.port}"


def migrate_system_database(config: DBOSConfig) -> None:
    """Create or migrate DBOS's system database (blocking: run it in a thread)."""
    database = SystemDatabase.create(
        system_database_url=config["system_database_url"] or "",
        engine_kwargs={},
        engine=config.get("system_database_engine"),
        schema=None,
        serializer=DBOSDefaultSerializer,
        executor_id=None,
        use_listen_notify=False,
    )
    try:
        database.run_migrations()
    finally:
        database.destroy()


def system_database_url(app_url: str, data_dir: Path) -> str:
    """Beside the app's database: a `-workflows` SQLite file next to it, or the same PostgreSQL
    database (DBOS keeps its tables in schema `dbos`)."""
    file = sqlite_file(app_url)
    if file is not None:
        path = Path(file)
        return f"sqlite:///{path.with_name(path.stem + '-workflows.sqlite')}"
    if app_url.startswith("sqlite"):  # in memory
        return f"sqlite:///{data_dir / 'intake-workflows.sqlite'}"
    return (
        sa.make_url(app_url)
        .set(drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


def sqlite_engine(url: str) -> sa.Engine:
    """WAL and synchronous=NORMAL, as the app's own SQLite: measured 71 → 593 checkpointed
    steps/s (docs/intake.md); a process killed with -9 loses nothing committed in WAL mode."""
    engine = sa.create_engine(
        url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    return engine


def dbos_config(runtime: Runtime) -> DBOSConfig:
    settings = runtime.settings
    url = settings.intake_engine.system_database_url or system_database_url(
        settings.database_url, settings.data_dir
    )
    config: DBOSConfig = {
        "name": "emsync-intake",
        "system_database_url": url,
        "executor_id": executor_id(settings),
        # Not DBOS's hash of the workflows' source, which changed with any edit of them and
        # left the runs begun before an upgrade to nobody (intake.workers).
        "application_version": WORKFLOW_VERSION,
        "log_level": "WARNING",
    }
    if url.startswith("sqlite"):
        config["system_database_engine"] = sqlite_engine(url)
    return config
