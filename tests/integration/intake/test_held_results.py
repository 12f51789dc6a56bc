"""A non-clinical first try's result held by the session's run (steps.Held): written by the
run's next transaction, once, and only while that try still holds its step."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.intake import steps
from emsync.intake.agents.base import StepOutput
from emsync.intake.models import IntakeAgentLog, IntakeStep
from emsync.intake.workflows import Move
from tests.integration.intake.test_rows import _session


async def test_a_held_result_is_written_with_the_runs_next_step_once(app: FastAPI) -> None:
    runtime = app.state.runtime
    sessions, keyring, now = runtime.sessions, runtime.keyring, runtime.clock()
    sid = await _session(app)
    run = f"intake:{sid}#0"
    opened: steps.Opened = {}
    step = await steps.advance(sessions, keyring, session_id=sid, run=run, now=now, opened=opened)
    done = StepOutput("done", {"ok": True})
    legal: steps.Claim | None = None
    while step.agent != "medical_records":  # triage, admission (legal falls due beside it)
        assert step.claim is not None
        step = await steps.record_result(
            sessions,
            keyring,
            claim_=step.claim,
            agent_version="1",
            result=done,
            started_at=now,
            duration_ms=1.0,
            now=now,
            then=run,
            opened=opened,
        )
        legal = next((c for c in step.beside if c.step.agent == "legal"), legal)
    assert legal is not None
    assert legal.run.endswith("#0")
    assert step.claim is not None
    # The payload and both earlier results, opened once for this run.
    assert len(opened) == 3
    assert dict(step.claim.step.previous) == {"triage": {"ok": True}, "admission": {"ok": True}}
    held = steps.Held(legal, "1", StepOutput("done", {"case": 1}), now, 2.0, now)
    step = await steps.record_result(
        sessions,
        keyring,
        claim_=step.claim,
        agent_version="1",
        result=done,
        started_at=now,
        duration_ms=1.0,
        now=now,
        then=run,
        held=[held],
        opened=opened,
    )
    assert step.move == Move.INLINE
    assert step.agent == "smart_health_device"
    # Again, as a replay's late write would: the step is no longer the try's, nothing changes.
    await steps.record_held(sessions, keyring, session_id=sid, held=[held], now=now)
    async with runtime.read_sessions() as session:
        status = await session.scalar(
            select(IntakeStep.status).where(
                IntakeStep.session_id == sid, IntakeStep.agent == "legal"
            )
        )
        logs = await session.scalar(
            select(func.count()).where(
                IntakeAgentLog.session_id == sid, IntakeAgentLog.agent == "legal"
            )
        )
    assert (status, logs) == ("done", 1)
    assert steps.open_cached(
        keyring, (await _legal_result(app, sid)), aad=steps.result_aad(sid, "legal"), opened=opened
    )["output"] == {"case": 1}


async def _legal_result(app: FastAPI, sid: str) -> bytes:
    async with app.state.runtime.read_sessions() as session:
        sealed = await session.scalar(
            select(IntakeStep.result_sealed).where(
                IntakeStep.session_id == sid, IntakeStep.agent == "legal"
            )
        )
    assert sealed is not None
    return bytes(sealed)
