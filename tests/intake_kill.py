"""The intake kill harness, shared by the kill test and bench/intake.py: sessions begun through
an API-only app, run by a real `emsync serve --role worker` subprocess that is killed with
SIGKILL mid-run and started again, then every step's effects counted in the database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.background import ProcessRole
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.intake.models import IntakeAgentLog, IntakeSession, IntakeStep, IntakeWorker
from emsync.intake.records.models import Admission, LegalCase
from emsync.intake.workers import system_database_url
from emsync.notifications.models import Notification
from tests.builders import auth_headers
from tests.conftest import TEST_MASTER_KEYS, TEST_SECRET
from tests.integration.intake.conftest import Ed, arrival, make_ed
from tests.ports import free_port

FINISHED = ("completed", "attention")


@asynccontextmanager
async def api_only(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app without the worker role: the sessions it begins wait for a worker."""
    app = create_app(settings, roles=(ProcessRole.API,))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


async def begin_sessions(
    app: FastAPI, client: httpx.AsyncClient, count: int
) -> tuple[Ed, list[str]]:
    admin = await auth_headers(app, client, Role.ADMIN)
    beds = tuple((f"B{i}", "majors", False) for i in range(count))
    ed = await make_ed(app, client, admin, slots=count, beds=beds)
    ids = []
    for _ in range(count):
        response = await client.post(
            "/api/intake/emergency/triage", json=arrival(ed), headers=admin
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ed, ids


def worker_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "EMSYNC_ENV": "test",
        "EMSYNC_DATA_DIR": str(data_dir),
        "EMSYNC_PORT": str(free_port()),
        "EMSYNC_LOG_LEVEL": "WARNING",
        "EMSYNC_DATABASE__URL": database_url,
        "EMSYNC_AUTH__SECRET_KEY": TEST_SECRET,
        "EMSYNC_SECURITY__MASTER_KEYS": TEST_MASTER_KEYS,
        "EMSYNC_INTAKE_ENGINE__POLL_SECONDS": "0.2",
        "EMSYNC_INTAKE_ENGINE__BACKOFF_SECONDS": "0.1",
    }


def held_back(env: dict[str, str], *, backoff: float) -> dict[str, str]:
    """A worker whose scheduling steps time out on every try (1 µs: the agent reads the
    database, so it always yields first) and wait `backoff` seconds before the next: each
    session is left with one unfinished run, its scheduling retries, for as long as the test
    needs, however fast the machine. A worker started with `env` itself runs them."""
    return {
        **env,
        "EMSYNC_INTAKE_ENGINE__AGENT_TIMEOUTS": '{"scheduling": 0.000001}',
        "EMSYNC_INTAKE_ENGINE__BACKOFF_SECONDS": str(backoff),
    }


def system_table(database_url: str, data_dir: Path) -> tuple[sa.Engine, str]:
    """The DBOS system database of a worker with this data directory, and its runs' table."""
    url = system_database_url(database_url, data_dir)
    table = "workflow_status" if url.startswith("sqlite") else "dbos.workflow_status"
    return sa.create_engine(url), table


def unfinished_runs(
    database_url: str, data_dir: Path, executor_id: str, *, version: str | None = None
) -> int:
    """The executor's PENDING runs (of `version`, when given); none before DBOS has made its
    tables (a worker still starting)."""
    engine, table = system_table(database_url, data_dir)
    try:
        with engine.begin() as connection:
            if not sa.inspect(connection).has_table(*reversed(table.split("."))):
                return 0
            of_version = "" if version is None else "AND application_version = :version"
            found = connection.execute(
                sa.text(
                    f"SELECT count(*) FROM {table} WHERE status = 'PENDING' "  # noqa: S608 - a fixed table name and clause
                    f"AND executor_id = :executor {of_version}"
                ),
                {"executor": executor_id, "version": version},
            ).scalar()
            return int(found or 0)
    finally:
        engine.dispose()


async def wait_held_back(
    database_url: str,
    data_dir: Path,
    executor_id: str,
    proc: subprocess.Popen[bytes],
    *,
    sessions: int,
    log: Path,
) -> None:
    """Until a `held_back` worker has every session's scheduling retry waiting (a condition,
    polled): the worker can then be killed with runs certainly unfinished."""
    deadline = time.monotonic() + 300
    while unfinished_runs(database_url, data_dir, executor_id) < sessions:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the runs never waited; the worker's log: {log}")
        await asyncio.sleep(0.05)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "emsync", "serve", "--role", "worker", "--no-migrate"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def steps_done(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        done = await session.scalar(
            select(func.count())
            .select_from(IntakeStep)
            .where(IntakeStep.status.in_(["done", "needs_review", "dead_letter"]))
        )
        return int(done or 0)


async def wait_until(
    runtime: Runtime, proc: subprocess.Popen[bytes], *, steps: int, log: Path, within: float
) -> None:
    """Until at least `steps` steps have finished (a condition, polled)."""
    deadline = time.monotonic() + within
    while await steps_done(runtime) < steps:
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited; its log: {log}")
        if time.monotonic() > deadline:
            raise AssertionError(f"only {await steps_done(runtime)} steps finished")
        await asyncio.sleep(0.05)


def scale_worker(
    database_url: str, data_dir: Path, *, poll: bool = True
) -> tuple[dict[str, str], str]:
    """A worker's environment (its own port, so its own executor id) and its executor id.
    Without `poll` it never starts new sessions: whatever it runs, it took over."""
    data_dir.mkdir()
    env = {
        **worker_env(database_url, data_dir),
        "EMSYNC_INTAKE_ENGINE__WORKER_HEARTBEAT_SECONDS": "0.3",
        "EMSYNC_INTAKE_ENGINE__WORKER_DEAD_AFTER_SECONDS": "3",
    }
    if not poll:
        env["EMSYNC_INTAKE_ENGINE__POLL_SECONDS"] = "86400"
    return env, f"{socket.gethostname()}:{env['EMSYNC_PORT']}"


async def worker_row(runtime: Runtime, executor_id: str) -> IntakeWorker | None:
    async with runtime.sessions() as session:
        return await session.get(IntakeWorker, executor_id)


async def wait_for_heartbeat(
    runtime: Runtime, executor_id: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    """Until the worker has recorded itself (a condition, polled). A worker's start is its
    imports, DBOS's launch and recovery: minutes on a loaded machine (120 s ran out at load 15),
    so the wait is long; a worker that exits ends it at once."""
    deadline = time.monotonic() + 300
    while await worker_row(runtime, executor_id) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"worker {executor_id} never beat; its log: {log}")
        await asyncio.sleep(0.05)


async def wait_all_begun(runtime: Runtime, proc: subprocess.Popen[bytes], *, log: Path) -> None:
    """Until a worker has begun every session (none left pending; a condition, polled)."""
    deadline = time.monotonic() + 300
    while True:
        async with runtime.sessions() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(IntakeSession)
                .where(IntakeSession.status == "pending")
            )
        if not pending:
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{pending} sessions never begun; the worker's log: {log}")
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Tally:
    sessions: int
    finished: int
    steps: int
    steps_finished_once: bool
    attempts: int
    rerun_steps: int
    admissions: int
    legal_cases: int
    notifications: int
    # Notifications of each session (family, staff): the same for every session when each
    # step's effects happened once.
    notifications_per_session: list[int]

    @property
    def exactly_once(self) -> bool:
        """Every session finished, every step once, one admission and one legal case per
        session, and the same notifications for each."""
        return (
            self.finished == self.sessions
            and self.steps_finished_once
            and self.admissions == self.sessions
            and self.legal_cases == self.sessions
            and len(self.notifications_per_session) == 1
        )

    def assert_each_effect_once(self, sessions: int, steps: int) -> None:
        """The kill and takeover tests' verdict, one assert per fact. Outside a test module
        pytest does not rewrite asserts, so each failure carries the whole tally."""
        facts = self.as_dict()
        assert self.finished == sessions, facts
        assert self.steps == steps, facts
        assert self.steps_finished_once, facts
        assert self.admissions == sessions, facts
        assert self.legal_cases == sessions, facts
        assert len(self.notifications_per_session) == 1, facts
        assert self.notifications_per_session[0] > 0, facts

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def tally(runtime: Runtime, session_ids: list[str]) -> Tally:
    """What the database holds: sessions, steps, attempts, and each kind of effect."""
    async with runtime.sessions() as session:

        async def count(model: Any, *where: Any) -> int:
            return int(
                await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
            )

        statuses = list(
            await session.scalars(
                select(IntakeSession.status).where(IntakeSession.id.in_(session_ids))
            )
        )
        steps = list(
            await session.scalars(select(IntakeStep).where(IntakeStep.session_id.in_(session_ids)))
        )
        attempts = await count(IntakeAgentLog, IntakeAgentLog.session_id.in_(session_ids))
        notification_keys = [
            str(key)
            for key in await session.scalars(select(Notification.idempotency_key))
            if str(key).split(":", 1)[0] in set(session_ids)
        ]
        per_session = Counter(key.split(":", 1)[0] for key in notification_keys)
        return Tally(
            sessions=len(session_ids),
            finished=sum(s in FINISHED for s in statuses),
            steps=len(steps),
            steps_finished_once=all(s.status in ("done", "needs_review") for s in steps),
            attempts=attempts,
            rerun_steps=sum(s.attempts > 1 for s in steps),
            admissions=await count(Admission, Admission.idempotency_key.like("%:admission")),
            legal_cases=await count(LegalCase),
            notifications=len(notification_keys),
            notifications_per_session=sorted({per_session[sid] for sid in session_ids}),
        )
