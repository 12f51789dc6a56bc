"""The intake device and appointment routes on SQLite and PostgreSQL: register a patient's
device (the telemetry registration and key), its vital signs, a device report filed on the
chart of the session's person and shown on the session, a follow-up booked from the session;
a revoked device, an unknown session or no free slot answered with problem+json that changes
nothing."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.intake.records.models import Booking
from emsync.telemetry.models import Device
from tests.builders import auth_headers
from tests.intake_support import wait_for_session
from tests.integration.intake.conftest import arrival, make_ed

PROBLEM = "application/problem+json"
NO_SESSION = "00000000-0000-4000-8000-000000000000"


async def _json(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    return body


async def _count(app: FastAPI, model: Any, *where: Any) -> int:
    async with app.state.runtime.sessions() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int(await session.scalar(query) or 0)


# Bookings made through /appointments/schedule (the session's scheduling agent books its own
# follow-up beside the test, whenever it gets to it).
SCHEDULED = Booking.idempotency_key.like("appointment:%")


async def _admitted_session(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> tuple[str, str]:
    """An arrival's emergency session, once admission has found the person."""
    ed = await make_ed(app, client, admin, slots=3)
    started = await _json(
        await client.post("/api/intake/emergency/triage", json=arrival(ed), headers=admin), 201
    )

    def admitted(body: dict[str, Any]) -> bool:
        return any(s["agent"] == "admission" and s["status"] == "done" for s in body["steps"])

    await wait_for_session(client, admin, started["id"], admitted)
    return started["id"], ed.person_id


async def test_a_device_registered_at_intake_is_a_telemetry_device_with_its_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    clinician = await auth_headers(app, client, Role.CLINICIAN)
    body = {"id": "watch-intake-1", "type": "wearable", "label": "bedside"}
    made = await _json(
        await client.post("/api/intake/devices/register", json=body, headers=clinician), 201
    )
    assert made["device"]["id"] == "watch-intake-1"
    assert made["key"]["key_id"] == 1
    assert len(made["key"]["key_hex"]) >= 32
    again = await client.post("/api/intake/devices/register", json=body, headers=clinician)
    _problem(again, 409)
    # The same device in telemetry's own view (one registry of devices, not a second one).
    seen = await _json(
        await client.get("/api/telemetry/devices/watch-intake-1", headers=clinician), 200
    )
    assert seen["id"] == "watch-intake-1"
    coordinator = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR)
    refused = await client.post(
        "/api/intake/devices/register", json=body | {"id": "watch-intake-2"}, headers=coordinator
    )
    _problem(refused, 403)
    assert await _count(app, Device) == 1


async def test_vital_signs_of_a_device_and_a_revoked_one_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    clinician = await auth_headers(app, client, Role.CLINICIAN)
    body = {"id": "mon-7", "type": "wearable"}
    await _json(
        await client.post("/api/intake/devices/register", json=body, headers=clinician), 201
    )
    vitals = await _json(
        await client.get("/api/intake/devices/mon-7/vital-signs", headers=clinician), 200
    )
    assert vitals["device_id"] == "mon-7"
    assert vitals["bound"] is False
    assert vitals["latest"] == {}
    _problem(await client.get("/api/intake/devices/nope-1/vital-signs", headers=clinician), 404)
    await _json(await client.post("/api/telemetry/devices/mon-7/revoke", headers=clinician), 200)
    refused = _problem(
        await client.get("/api/intake/devices/mon-7/vital-signs", headers=clinician), 409
    )
    assert "revoked" in refused["detail"]


async def test_a_device_report_is_filed_on_the_chart_and_shown_on_the_session(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    session_id, person_id = await _admitted_session(app, client, admin)
    device = {"id": "pump-3", "type": "wearable"}
    await _json(await client.post("/api/intake/devices/register", json=device, headers=admin), 201)
    url = f"/api/intake/workflow/{session_id}/device-reports"
    before = await _json(await client.get(url, headers=admin), 200)
    report = {"session_id": session_id, "summary": "SpO2 88-91% overnight, 3 desaturations"}
    filed = await _json(
        await client.post("/api/intake/devices/pump-3/reports", json=report, headers=admin), 201
    )
    assert filed["person_id"] == person_id
    assert filed["device_id"] == "pump-3"
    shown = await _json(await client.get(url, headers=admin), 200)
    assert len(shown) == len(before) + 1
    assert shown[0]["summary"] == report["summary"]
    # Bad input changes nothing: an unknown session, a revoked device.
    unknown = report | {"session_id": NO_SESSION}
    _problem(
        await client.post("/api/intake/devices/pump-3/reports", json=unknown, headers=admin), 404
    )
    await _json(await client.post("/api/telemetry/devices/pump-3/revoke", headers=admin), 200)
    revoked = await client.post("/api/intake/devices/pump-3/reports", json=report, headers=admin)
    assert "revoked" in _problem(revoked, 409)["detail"]
    assert len(await _json(await client.get(url, headers=admin), 200)) == len(shown)


async def test_a_follow_up_is_booked_for_the_session_once_per_key(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    session_id, person_id = await _admitted_session(app, client, admin)
    body = {"session_id": session_id, "specialty": "surgery", "reason": "wound review"}
    key = {"Idempotency-Key": "follow-up-0001"}
    booked = await _json(
        await client.post("/api/intake/appointments/schedule", json=body, headers=admin | key),
        201,
    )
    assert booked["person_id"] == person_id
    assert booked["session_id"] == session_id
    assert booked["slot"]["specialty"] == "surgery"
    again = await _json(
        await client.post("/api/intake/appointments/schedule", json=body, headers=admin | key),
        201,
    )
    assert again["id"] == booked["id"]
    assert await _count(app, Booking, SCHEDULED) == 1
    none_free = body | {"specialty": "dermatology"}
    taken = _problem(
        await client.post("/api/intake/appointments/schedule", json=none_free, headers=admin), 409
    )
    assert taken["type"].endswith("slot-taken")
    unknown = body | {"session_id": NO_SESSION}
    _problem(
        await client.post("/api/intake/appointments/schedule", json=unknown, headers=admin), 404
    )
    paramedic = await auth_headers(app, client, Role.PARAMEDIC)
    _problem(
        await client.post("/api/intake/appointments/schedule", json=body, headers=paramedic), 403
    )
    assert await _count(app, Booking, SCHEDULED) == 1
