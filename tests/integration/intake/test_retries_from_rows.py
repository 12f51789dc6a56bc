"""intake-3 runs take no DBOS step: where a replayed run stands in a step's retries, when its
backoff ends and its dead letter are read from the step's row (steps._next, failed_at,
dead_letter), not from checkpoints."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI

from emsync.core.clock import as_utc
from emsync.intake import rows, steps
from emsync.intake.workflows import Move, StepStatus
from tests.integration.intake.test_rows import _session

S = StepStatus


async def _last_try(app: FastAPI, sid: str, agent: str) -> tuple[str | None, str, datetime]:
    async with app.state.runtime.read_sessions() as session:
        found = await rows.read_step(await session.connection(), sid, agent)
    assert found is not None
    return found.claimed_by, found.status, as_utc(found.updated_at)


async def test_a_replayed_run_goes_back_to_its_retries_with_the_backoff_from_the_row(
    app: FastAPI,
) -> None:
    runtime = app.state.runtime
    sessions, keyring, now = runtime.sessions, runtime.keyring, runtime.clock()
    sid = await _session(app)
    run = f"intake:{sid}#0"
    first = await steps.advance(sessions, keyring, session_id=sid, run=run, now=now)
    assert first.claim is not None
    failed = now + timedelta(seconds=1)
    await steps.record_failure(
        sessions,
        keyring,
        claim_=first.claim,
        agent_version="1",
        outcome="failed",
        error="RuntimeError",
        back_to=S.PENDING,
        started_at=now,
        duration_ms=1.0,
        now=failed,
    )
    # The replay of the run: no second first try of the failed step, it is in its retries.
    again = await steps.advance(sessions, keyring, session_id=sid, run=run, now=failed)
    assert (again.move, again.agent, again.claim) == (Move.INLINE, first.agent, None)
    # The backoff before try 1 starts when try 0 handed the step back (IntakeEngine.back_off).
    assert await _last_try(app, sid, first.agent) == (run, S.PENDING, failed)
    # Try 1 taken: nothing left to wait for after try 0 (a replay served that wait).
    retry = f"intake:{sid}#1"
    taken = await steps.claim(
        sessions, keyring, session_id=sid, agent=first.agent, run=retry, now=failed
    )
    assert isinstance(taken, steps.Claim)
    assert (await _last_try(app, sid, first.agent))[:2] == (retry, S.RUNNING)
    # Still the run's retries while try 1 runs (a crash now: the retries take it again).
    again = await steps.advance(sessions, keyring, session_id=sid, run=run, now=failed)
    assert (again.agent, again.claim) == (first.agent, None)
    # Its tries over with try 1 still holding it: the dead letter moves it (no endless loop),
    # once; another workflow's dead letter would not.
    moved, _ = await steps.dead_letter(
        sessions, session_id=sid, agent=first.agent, now=failed, workflow="intake:other"
    )
    assert not moved
    moved, board = await steps.dead_letter(
        sessions, session_id=sid, agent=first.agent, now=failed, workflow=f"intake:{sid}"
    )
    assert moved
    assert {s["agent"]: s["status"] for s in board.steps}[first.agent] == S.DEAD_LETTER
    moved, _ = await steps.dead_letter(
        sessions, session_id=sid, agent=first.agent, now=failed, workflow=f"intake:{sid}"
    )
    assert not moved
    # The run goes on past the dead letter.
    after = await steps.advance(sessions, keyring, session_id=sid, run=run, now=failed)
    assert after.agent != first.agent
