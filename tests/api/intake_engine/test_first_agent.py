"""A session's first agent is called while DBOS writes its run's start, and its result is
recorded only once DBOS holds the run (intake.engine: IntakeEngine.begin)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from dbos import DBOS
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.intake import engine as engine_module
from emsync.intake.models import IntakeAgentLog, IntakeSession, IntakeStep
from tests.api.intake_engine.test_intake_api import ARRIVAL, finished
from tests.intake_support import RecordingAgent, wait_for_session


async def test_the_first_agent_runs_while_the_runs_start_is_written_and_is_recorded_after(
    app: FastAPI,
    client: httpx.AsyncClient,
    clinician: dict[str, str],
    agents: dict[str, RecordingAgent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = app.state.runtime
    start_written, triage_called = asyncio.Event(), asyncio.Event()
    start_workflow = DBOS.start_workflow_async

    async def slow_start(func: Any, *args: Any, **kwargs: Any) -> Any:
        # DBOS writing the session run's start, held until the test lets it go on.
        if func is engine_module.run_session:
            await start_written.wait()
        return await start_workflow(func, *args, **kwargs)

    async def triage(_step: Any) -> None:
        triage_called.set()

    monkeypatch.setattr(DBOS, "start_workflow_async", slow_start)
    agents["triage"].behaviour = triage
    posted = asyncio.create_task(
        client.post("/api/intake/emergency/triage", json=ARRIVAL, headers=clinician)
    )
    # Called before DBOS has written the start (on main: only after it).
    await asyncio.wait_for(triage_called.wait(), timeout=30)
    await asyncio.sleep(0.05)  # the agent has returned; its result must still wait for DBOS
    async with runtime.read_sessions() as session:
        status = await session.scalar(select(IntakeSession.status))
        triage_step = await session.scalar(
            select(IntakeStep.status).where(IntakeStep.agent == "triage")
        )
        logged = await session.scalar(select(func.count()).select_from(IntakeAgentLog))
    # Nothing recorded before DBOS holds the run: a crash now leaves a pending session, whose
    # run a poll starts again (taking the claim again; the agent's effects are found by key).
    assert (status, triage_step, logged) == ("pending", "running", 0)
    start_written.set()
    response = await posted
    assert response.status_code == 201, response.text
    session_id = response.json()["id"]
    body = await wait_for_session(client, clinician, session_id, finished)
    assert body["status"] == "completed"
    assert agents["triage"].runs[session_id] == 1
    async with runtime.read_sessions() as session:
        triage_logs = await session.scalar(
            select(func.count()).where(
                IntakeAgentLog.session_id == session_id, IntakeAgentLog.agent == "triage"
            )
        )
    assert triage_logs == 1
