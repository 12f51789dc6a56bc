"""Runs nobody recovered before: several workers on one PostgreSQL database, worker B runs the
sessions and is killed with SIGKILL, never to come back, and worker A notices B's silence and
takes over its unfinished runs: every session completes with each step's effects in the
database exactly once. And after an upgrade, runs of a version the new code cannot replay are
left to workers of their version instead of failing."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.intake.models import IntakeSession
from tests.intake_kill import (
    api_only,
    begin_sessions,
    held_back,
    kill_hard,
    scale_worker,
    start_worker,
    stop,
    system_table,
    tally,
    unfinished_runs,
    wait_for_heartbeat,
    wait_held_back,
    wait_until,
    worker_env,
    worker_row,
)

SESSIONS = 6
STEPS = 8 * SESSIONS


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_dead_workers_runs_are_taken_over_with_each_effect_once(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    async with api_only(settings) as (app, client):
        runtime = app.state.runtime
        env_a, id_a = scale_worker(database_url, tmp_path / "a", poll=False)
        env_b, id_b = scale_worker(database_url, tmp_path / "b")
        log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
        # A is up but starts no session: B begins and runs them all, so what A runs is B's.
        worker_a = start_worker(env_a, log_a)
        worker_b: subprocess.Popen[bytes] | None = None
        try:
            await wait_for_heartbeat(runtime, id_a, worker_a, log_a)
            _ed, session_ids = await begin_sessions(app, client, SESSIONS)
            # Held back (its retries wait 1 s): B has every session's scheduling unfinished
            # when killed, however fast it runs; A, not held back, finishes them.
            worker_b = start_worker(held_back(env_b, backoff=1.0), log_b)
            await wait_held_back(
                database_url, tmp_path / "b", id_b, worker_b, sessions=SESSIONS, log=log_b
            )
            kill_hard(worker_b)  # and never started again
            await wait_until(runtime, worker_a, steps=STEPS, log=log_a, within=300)
        finally:
            for worker in (worker_a, worker_b):
                if worker is not None and worker.poll() is None:
                    stop(worker)
        counted = await tally(runtime, session_ids)
        dead = await worker_row(runtime, id_b)
    counted.assert_each_effect_once(SESSIONS, STEPS)
    assert dead is not None
    assert dead.taken_over_by == id_a
    assert dead.runs_taken_over >= SESSIONS
    assert dead.runs_in_flight == 0  # the ops view shows no run left on the dead worker


def stamp_older_version(
    database_url: str, data_dir: Path, executor_id: str, version: str = "intake-1"
) -> int:
    """Stamp the executor's unfinished runs with an older `version`, as a worker of that version
    left them."""
    engine, table = system_table(database_url, data_dir)
    try:
        with engine.begin() as connection:
            result = connection.execute(
                sa.text(
                    f"UPDATE {table} SET application_version = :version "  # noqa: S608 - a fixed table name
                    "WHERE status = 'PENDING' AND executor_id = :executor"
                ),
                {"executor": executor_id, "version": version},
            )
            return int(result.rowcount or 0)
    finally:
        engine.dispose()


def checkpoint_as_intake_2(database_url: str, data_dir: Path, executor_id: str) -> None:
    """Give each of the executor's unfinished runs the checkpoint an intake-2 run had taken
    first (its `intake.advance` step): the code replaying it takes no DBOS step, so it never
    meets that checkpoint, and the run goes on from the step rows."""
    engine, table = system_table(database_url, data_dir)
    outputs = table.replace("workflow_status", "operation_outputs")
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    f"INSERT INTO {outputs} (workflow_uuid, function_id, function_name, "  # noqa: S608 - fixed table names
                    "retention_timestamp) "
                    f"SELECT workflow_uuid, 1, 'intake.advance', 0 FROM {table} "
                    "WHERE status = 'PENDING' AND executor_id = :executor"
                ),
                {"executor": executor_id},
            )
    finally:
        engine.dispose()


async def test_runs_of_intake_2_in_flight_are_replayed_to_their_end_with_each_effect_once(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    """REPLAYS: a worker killed with runs in flight is upgraded (its runs stamped intake-2, as
    the previous version left them, with an intake-2 checkpoint) and started again: it adopts
    them, and every session completes with each step's effects once."""
    async with api_only(settings) as (app, client):
        runtime = app.state.runtime
        _ed, session_ids = await begin_sessions(app, client, SESSIONS)
        env, log = worker_env(database_url, tmp_path), tmp_path / "worker.log"
        executor = f"{socket.gethostname()}:{env['EMSYNC_PORT']}"
        # Held back: every session keeps a run unfinished until the kill, however fast it runs.
        worker = start_worker(held_back(env, backoff=3600), log)
        try:
            await wait_held_back(
                database_url, tmp_path, executor, worker, sessions=SESSIONS, log=log
            )
            kill_hard(worker)
            checkpoint_as_intake_2(database_url, tmp_path, executor)
            stamped = stamp_older_version(database_url, tmp_path, executor, "intake-2")
            worker = start_worker(env, log)  # upgraded: DBOS launches, then adopt_own
            await wait_until(runtime, worker, steps=STEPS, log=log, within=300)
        finally:
            stop(worker)
        counted = await tally(runtime, session_ids)
    assert stamped >= SESSIONS
    counted.assert_each_effect_once(SESSIONS, STEPS)
    # Adopted at launch (re-stamped as this version), not left to a worker of intake-2.
    assert unfinished_runs(database_url, tmp_path, executor, version="intake-2") == 0


async def test_runs_of_a_version_this_code_cannot_replay_are_left_to_their_version(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    """A half-done intake-1 run replayed by this code would fail (DBOSUnexpectedStepError) and
    its session would hang: the upgraded worker leaves it PENDING for an intake-1 worker."""
    async with api_only(settings) as (app, client):
        runtime = app.state.runtime
        await begin_sessions(app, client, SESSIONS)
        env, log = worker_env(database_url, tmp_path), tmp_path / "worker.log"
        executor = f"{socket.gethostname()}:{env['EMSYNC_PORT']}"
        # Held back: every session keeps a run unfinished until the kill, however fast it runs.
        worker = start_worker(held_back(env, backoff=3600), log)
        try:
            await wait_held_back(
                database_url, tmp_path, executor, worker, sessions=SESSIONS, log=log
            )
            kill_hard(worker)
            stamped = stamp_older_version(database_url, tmp_path, executor)
            worker = start_worker(env, log)  # upgraded: DBOS launches, then adopt_own
            _ed2, (fresh,) = await begin_sessions(app, client, 1)
            # The new session runs to its end: the worker has launched and adopted what it would.
            await wait_finished(runtime, fresh, worker, log=log)
        finally:
            stop(worker)
    assert stamped >= SESSIONS
    assert unfinished_runs(database_url, tmp_path, executor, version="intake-1") == stamped


async def wait_finished(
    runtime: Runtime, session_id: str, proc: subprocess.Popen[bytes], *, log: Path
) -> None:
    """Until the session is completed or waits for attention (a condition, polled)."""
    deadline = time.monotonic() + 300
    while True:
        async with runtime.sessions() as session:
            row = await session.get(IntakeSession, session_id)
            if row is not None and row.status in ("completed", "attention"):
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"session {session_id} never finished; the worker's log: {log}")
        await asyncio.sleep(0.05)
