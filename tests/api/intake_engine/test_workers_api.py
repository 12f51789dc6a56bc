"""`GET /api/intake/health/workers`: the worker processes that run intake sessions, alive or
silent, and who took over a dead one's runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from emsync.core.settings import Settings
from emsync.intake.engine import IntakeEngine
from emsync.intake.models import IntakeWorker
from emsync.intake.workers import executor_id
from tests.intake_support import RecordingAgent, statuses, wait_for_session


async def test_the_ops_view_shows_this_worker_alive_and_a_dead_one_taken_over(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str], settings: Settings
) -> None:
    runtime = app.state.runtime
    an_hour_ago = runtime.clock() - timedelta(hours=1)
    async with runtime.sessions() as session, session.begin():
        session.add(
            IntakeWorker(
                executor_id="ed-2:8002",
                host="ed-2",
                pid=4242,
                started_at=an_hour_ago,
                heartbeat_at=an_hour_ago,
                taken_over_by=executor_id(settings),
                taken_over_at=an_hour_ago + timedelta(minutes=1),
                runs_taken_over=7,
            )
        )

    response = await client.get("/api/intake/health/workers", headers=clinician)

    assert response.status_code == 200, response.text
    shown = {worker["executor_id"]: worker for worker in response.json()}
    assert shown[executor_id(settings)]["alive"] is True  # the app's own engine beats
    dead = shown["ed-2:8002"]
    assert dead["alive"] is False
    assert (dead["taken_over_by"], dead["runs_taken_over"], dead["pid"]) == (
        executor_id(settings),
        7,
        4242,
    )


async def test_the_ops_view_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/intake/health/workers")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_worker_silent_too_long_is_taken_over_once_and_counted(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    runtime = app.state.runtime
    engine = runtime.get(IntakeEngine)
    silent = runtime.clock() - timedelta(
        seconds=2 * settings.intake_engine.worker_dead_after_seconds
    )
    async with runtime.sessions() as session, session.begin():
        session.add(
            IntakeWorker(
                executor_id="ed-3:8003",
                host="ed-3",
                pid=7,
                started_at=silent,
                heartbeat_at=silent,
                runs_taken_over=0,
                runs_in_flight=2,  # at its last heartbeat
            )
        )

    # This worker's round (its own loop may run one meanwhile: one of them claims it).
    await engine.workers.round()
    await engine.workers.round()

    async with runtime.sessions() as session:
        taken = await session.get(IntakeWorker, "ed-3:8003")
    assert taken is not None
    assert taken.taken_over_by == executor_id(settings)
    assert taken.runs_in_flight == 0  # its runs are no longer its own
    metrics = (await client.get("/metrics")).text
    assert "emsync_intake_worker_takeovers_total 1.0" in metrics


async def test_the_ops_view_says_how_long_a_worker_has_been_silent_by_the_servers_clock(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    runtime = app.state.runtime
    ninety_seconds_ago = runtime.clock() - timedelta(seconds=90)
    async with runtime.sessions() as session, session.begin():
        session.add(
            IntakeWorker(
                executor_id="ed-4:8004",
                host="ed-4",
                pid=44,
                started_at=ninety_seconds_ago,
                heartbeat_at=ninety_seconds_ago,
                runs_taken_over=0,
                runs_in_flight=3,
            )
        )

    response = await client.get("/api/intake/health/workers", headers=clinician)

    assert response.status_code == 200, response.text
    silent = {worker["executor_id"]: worker for worker in response.json()}["ed-4:8004"]
    assert silent["alive"] is False
    assert 90 <= silent["silent_seconds"] < 3600
    assert silent["runs_in_flight"] == 3


async def own_row(client: httpx.AsyncClient, headers: dict[str, str], me: str) -> dict[str, Any]:
    response = await client.get("/api/intake/health/workers", headers=headers)
    assert response.status_code == 200, response.text
    return next(worker for worker in response.json() if worker["executor_id"] == me)


async def test_a_worker_shows_its_runs_in_flight_and_none_once_they_finish(
    app: FastAPI,
    client: httpx.AsyncClient,
    clinician: dict[str, str],
    agents: dict[str, RecordingAgent],
    settings: Settings,
) -> None:
    engine = app.state.runtime.get(IntakeEngine)
    me = executor_id(settings)
    gate = asyncio.Event()

    async def wait_gate(_step: object) -> None:
        await gate.wait()

    agents["triage"].behaviour = wait_gate
    started = await client.post(
        "/api/intake/emergency/triage",
        json={"hospital_id": "hospital-a", "chief_complaint": "chest pain"},
        headers=clinician,
    )
    assert started.status_code == 201, started.text
    session_id = started.json()["id"]
    await wait_for_session(
        client, clinician, session_id, lambda b: statuses(b)["triage"] == "running"
    )

    await engine.workers.round()
    assert (await own_row(client, clinician, me))["runs_in_flight"] >= 1

    gate.set()
    await wait_for_session(client, clinician, session_id, lambda b: b["status"] == "completed")
    # DBOS marks the run finished just after the session's last write: poll, not a sleep.
    deadline = time.monotonic() + 60
    while (await own_row(client, clinician, me))["runs_in_flight"] != 0:
        assert time.monotonic() < deadline, "the finished run still counted as in flight"
        await engine.workers.round()
        await asyncio.sleep(0.05)
