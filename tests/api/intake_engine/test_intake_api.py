"""The intake API and orchestrator on SQLite and PostgreSQL: sessions run every step once,
emergency first, dead letters, overrides with a reason, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.core.runtime import Runtime
from emsync.handoffs.events import HandoffStatusChanged
from emsync.intake import handlers
from emsync.intake.models import IntakeOverride, IntakeSession
from emsync.intake.workflows import NON_CLINICAL, WORKFLOWS
from tests.intake_support import RecordingAgent, always_fail, statuses, wait_for_session

ARRIVAL = {
    "hospital_id": "hospital-a",
    "chief_complaint": "stab wound to the left flank",
    "mechanism": "stab wound",
    "vitals": {"hr": 118, "spo2": 95, "rr": 24, "sbp": 98},
}


def finished(body: dict[str, Any]) -> bool:
    return body["status"] in {"completed", "attention"}


async def start(client: httpx.AsyncClient, headers: dict[str, str], **extra: Any) -> str:
    response = await client.post(
        "/api/intake/emergency/triage", json={**ARRIVAL, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def count(app: FastAPI, model: Any) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_each_workflow_runs_its_steps_in_order_once(
    client: httpx.AsyncClient, clinician: dict[str, str], agents: dict[str, RecordingAgent]
) -> None:
    started = {}
    for workflow in WORKFLOWS:
        response = await client.post(
            "/api/intake/workflow", json={**ARRIVAL, "workflow": workflow}, headers=clinician
        )
        assert response.status_code == 201, response.text
        started[workflow] = response.json()["id"]
    for workflow, session_id in started.items():
        body = await wait_for_session(client, clinician, session_id, finished)
        assert body["status"] == "completed"
        assert [s["agent"] for s in body["steps"]] == list(WORKFLOWS[workflow])
        assert all(agents[name].runs[session_id] == 1 for name in WORKFLOWS[workflow])
        # Each step saw the outputs of the steps finished before it (in an emergency a
        # non-clinical step runs beside the others, so it may not be done yet).
        first, last = body["steps"][0], body["steps"][-1]
        assert first["decisions"][0]["rule"] == f"{first['agent']}-rule"
        earlier = set(WORKFLOWS[workflow][:-1])
        assert earlier - NON_CLINICAL <= set(last["output"]["saw"]) <= earlier
        assert body["clinical_done_at"] is not None


async def test_a_hanging_non_clinical_agent_never_holds_up_the_clinical_steps(
    client: httpx.AsyncClient, clinician: dict[str, str], agents: dict[str, RecordingAgent]
) -> None:
    release = asyncio.Event()

    async def hang(_step: Any) -> None:
        await release.wait()

    agents["legal"].behaviour = hang
    session_id = await start(client, clinician)
    clinical = {"triage", "admission", "medical_records", "smart_health_device"}
    body = await wait_for_session(
        client, clinician, session_id, lambda b: all(statuses(b)[a] == "done" for a in clinical)
    )
    assert statuses(body)["legal"] == "running"
    assert body["clinical_done_at"] is None or body["status"] == "running"
    release.set()
    body = await wait_for_session(client, clinician, session_id, finished)
    assert body["status"] == "completed"
    assert agents["legal"].runs[session_id] == 1


async def test_a_poison_step_dead_letters_that_step_only_and_can_be_forced(
    client: httpx.AsyncClient, clinician: dict[str, str], agents: dict[str, RecordingAgent]
) -> None:
    agents["billing"].behaviour = always_fail
    session_id = await start(client, clinician)
    body = await wait_for_session(client, clinician, session_id, finished)
    assert body["status"] == "attention"
    assert statuses(body)["billing"] == "dead_letter"
    assert {a for a, s in statuses(body).items() if s != "done"} == {"billing"}
    billing = next(s for s in body["steps"] if s["agent"] == "billing")
    assert billing["attempts"] == 2
    assert billing["error"] == "AgentBroke"
    logs = (await client.get(f"/api/intake/workflow/{session_id}/logs", headers=clinician)).json()
    assert sorted(log["outcome"] for log in logs if log["agent"] == "billing") == [
        "failed",
        "failed",
    ]
    # The service is back: a clinician forces the step again, with a reason.
    agents["billing"].behaviour = None
    forced = await client.post(
        f"/api/intake/emergency/override/{session_id}",
        json={"action": "force", "agent": "billing", "reason": "billing service restored"},
        headers=clinician,
    )
    assert forced.status_code == 200, forced.text
    body = await wait_for_session(client, clinician, session_id, finished)
    assert body["status"] == "completed"
    assert body["overrides"][0]["reason"] == "billing service restored"
    # Shown with the person's name, as the audit view does, not as user:<id>.
    me = (await client.get("/api/auth/me", headers=clinician)).json()
    assert body["overrides"][0]["actor"] == f"user:{me['id']}"
    assert body["overrides"][0]["actor_name"] == me["name"]


async def test_skip_and_reorder_with_reason_are_recorded_and_shown(
    client: httpx.AsyncClient, clinician: dict[str, str], agents: dict[str, RecordingAgent]
) -> None:
    gate = asyncio.Event()

    async def wait_gate(_step: Any) -> None:
        await gate.wait()

    agents["triage"].behaviour = wait_gate
    session_id = await start(client, clinician, workflow="emergency_device")
    await wait_for_session(
        client, clinician, session_id, lambda b: statuses(b)["triage"] == "running"
    )
    reorder = await client.post(
        f"/api/intake/emergency/override/{session_id}",
        json={"action": "reorder", "order": ["admission", "communication"], "reason": "bed first"},
        headers=clinician,
    )
    assert reorder.status_code == 200, reorder.text
    skip = await client.post(
        f"/api/intake/emergency/override/{session_id}",
        json={"action": "skip", "agent": "communication", "reason": "family already here"},
        headers=clinician,
    )
    assert skip.status_code == 200, skip.text
    gate.set()
    body = await wait_for_session(client, clinician, session_id, finished)
    assert statuses(body)["communication"] == "skipped"
    assert agents["communication"].runs[session_id] == 0
    assert [(o["action"], o["reason"]) for o in body["overrides"]] == [
        ("reorder", "bed first"),
        ("skip", "family already here"),
    ]


async def test_bad_input_is_refused_with_a_problem_and_changes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    clinician: dict[str, str],
    paramedic: dict[str, str],
) -> None:
    session_id = await start(client, clinician)
    await wait_for_session(client, clinician, session_id, finished)
    sessions, overrides = await count(app, IntakeSession), await count(app, IntakeOverride)
    refused = [
        await client.post(
            "/api/intake/workflow", json={**ARRIVAL, "workflow": "teleport"}, headers=clinician
        ),
        await client.get(
            "/api/intake/workflow/00000000-0000-0000-0000-000000000000", headers=clinician
        ),
        await client.post(
            f"/api/intake/emergency/override/{session_id}",
            json={"action": "skip", "agent": "billing"},
            headers=clinician,
        ),
        await client.post(
            f"/api/intake/emergency/override/{session_id}",
            json={"action": "skip", "agent": "billing", "reason": "not needed"},
            headers=paramedic,
        ),
        await client.post(
            f"/api/intake/emergency/override/{session_id}",
            json={"action": "skip", "agent": "billing", "reason": "already finished"},
            headers=clinician,
        ),
    ]
    assert [r.status_code for r in refused] == [422, 404, 422, 403, 409]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert "unknown workflow 'teleport'" in refused[0].json()["detail"]
    assert (await count(app, IntakeSession), await count(app, IntakeOverride)) == (
        sessions,
        overrides,
    )


async def test_an_arrival_starts_one_emergency_session_however_often_delivered(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    runtime: Runtime = app.state.runtime
    arrived = HandoffStatusChanged(
        handoff_id="h-1",
        hospital_id="hospital-a",
        incident_id="i-1",
        unit_id="u-1",
        status="arrived",
        old="acknowledged",
        new="arrived",
        actor="crew",
    )
    await handlers.start_emergency_on_arrival(runtime, arrived)
    await handlers.start_emergency_on_arrival(runtime, arrived)
    board = (await client.get("/api/intake/sessions", headers=clinician)).json()
    assert len(board) == 1
    assert board[0]["workflow"] == "emergency"
    body = await wait_for_session(client, clinician, board[0]["id"], finished)
    assert body["payload"]["handoff_id"] == "h-1"


async def test_agent_health_shows_each_agents_circuit_and_runs(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    session_id = await start(client, clinician)
    await wait_for_session(client, clinician, session_id, finished)
    health = (await client.get("/api/intake/health/agents", headers=clinician)).json()
    triage = next(a for a in health if a["agent"] == "triage")
    assert triage == {
        "agent": "triage",
        "clinical": True,
        "version": "test-1",
        "circuit": "closed",
        "runs": 1,
        "failures": 0,
        "last_error": None,
    }


async def test_a_revoked_or_unknown_device_starts_nothing(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str], paramedic: dict[str, str]
) -> None:
    made = await client.post(
        "/api/telemetry/devices", json={"id": "mon-9", "type": "monitor"}, headers=paramedic
    )
    assert made.status_code == 201, made.text
    scan = await client.post(
        "/api/intake/devices/scan", json={"device_id": "mon-9"}, headers=clinician
    )
    assert scan.status_code == 201, scan.text
    await wait_for_session(client, clinician, scan.json()["id"], finished)
    revoked = await client.post("/api/telemetry/devices/mon-9/revoke", headers=paramedic)
    assert revoked.status_code == 200, revoked.text
    sessions = await count(app, IntakeSession)
    refused = [
        await client.post(
            "/api/intake/devices/scan", json={"device_id": "mon-9"}, headers=clinician
        ),
        await client.post("/api/intake/devices/mon-9/emergency-check", headers=clinician),
        await client.post(
            "/api/intake/devices/scan", json={"device_id": "nope"}, headers=clinician
        ),
    ]
    assert [r.status_code for r in refused] == [409, 409, 404]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert await count(app, IntakeSession) == sessions
