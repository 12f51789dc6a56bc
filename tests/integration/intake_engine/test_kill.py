"""A worker killed with SIGKILL in the middle of intake runs, then started again: every session
completes and each step's effects are in the database exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from emsync.core.settings import Settings
from tests.intake_kill import (
    api_only,
    begin_sessions,
    kill_hard,
    start_worker,
    stop,
    tally,
    wait_until,
    worker_env,
)

SESSIONS = 6
STEPS = 8 * SESSIONS


async def test_a_worker_killed_mid_run_resumes_with_each_effect_once(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    async with api_only(settings) as (app, client):
        runtime = app.state.runtime
        _ed, session_ids = await begin_sessions(app, client, SESSIONS)
        env, log = worker_env(database_url, tmp_path), tmp_path / "worker.log"
        worker = start_worker(env, log)
        try:
            await wait_until(runtime, worker, steps=STEPS // 3, log=log, within=300)
            kill_hard(worker)
            worker = start_worker(env, log)
            await wait_until(runtime, worker, steps=STEPS, log=log, within=300)
        finally:
            stop(worker)
        counted = await tally(runtime, session_ids)
    counted.assert_each_effect_once(SESSIONS, STEPS)
