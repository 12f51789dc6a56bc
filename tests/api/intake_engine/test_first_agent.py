"""How the engine calls an agent: a session's first agent while DBOS writes its run's start (its
result recorded only once DBOS holds the run: IntakeEngine.begin), and every call within its
timeout (IntakeEngine._call)."""

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
from tests.api.intake_engine.conftest import ENGINE
from tests.api.intake_engine.test_intake_api import ARRIVAL, finished, start
from tests.intake_support import RecordingAgent, wait_for_session


@pytest.fixture
def intake_engine() -> dict[str, Any]:
    return {**ENGINE, "agent_timeouts": {"medical_records": 0.3}}


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


async def test_a_try_past_its_timeout_fails_as_a_timeout_and_the_next_try_runs(
    app: FastAPI,
    client: httpx.AsyncClient,
    clinician: dict[str, str],
    agents: dict[str, RecordingAgent],
) -> None:
    tries = 0

    async def slow_once(_step: Any) -> None:
        nonlocal tries
        tries += 1
        if tries == 1:
            await asyncio.sleep(30)  # far past its 0.3 s

    agents["medical_records"].behaviour = slow_once
    session_id = await start(client, clinician)
    body = await wait_for_session(client, clinician, session_id, finished)
    assert body["status"] == "completed"
    async with app.state.runtime.read_sessions() as session:
        outcomes = list(
            await session.scalars(
                select(IntakeAgentLog.outcome)
                .where(
                    IntakeAgentLog.session_id == session_id,
                    IntakeAgentLog.agent == "medical_records",
                )
                .order_by(IntakeAgentLog.attempt)
            )
        )
    assert outcomes == ["timeout", "done"]
