"""Cancelling an incident releases its units in the same transaction: each one that may stand
down is available again, with the change in its status log and pushed to the board; a unit
transporting a patient keeps going (SQLite and PostgreSQL, the Monaco map)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.core.realtime import Hub, Subscriber
from emsync.core.runtime import Runtime
from emsync.dispatch.models import UnitStatusEntry
from emsync.routing import RoadMap
from tests.api.dispatch.test_dispatch_api import _create_units, _drain, _spots, _status, _unit
from tests.builders import auth_headers, incident_body


async def _incident(
    client: httpx.AsyncClient, headers: dict[str, str], at: tuple[float, float]
) -> str:
    body = incident_body(priority=2, lat=at[0], lon=at[1])
    created = await client.post("/api/incidents", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _assign(
    client: httpx.AsyncClient, headers: dict[str, str], incident_id: str, unit_id: str
) -> None:
    assigned = await client.post(
        f"/api/dispatch/incidents/{incident_id}/assign", json={"unit_id": unit_id}, headers=headers
    )
    assert assigned.status_code == 201, assigned.text


async def test_cancelling_an_incident_releases_its_units_and_records_it(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    client = monaco_client
    headers = await auth_headers(monaco_app, client, Role.DISPATCHER)
    scene, other_scene, a, b, c = _spots(monaco, 5)
    first, second, carrier = await _create_units(
        client, headers, [_unit("MC-1", "ALS", a), _unit("MC-2", "ALS", b), _unit("MC-3", "ALS", c)]
    )
    cancelled_call = await _incident(client, headers, scene)
    await _assign(client, headers, cancelled_call, first["id"])
    await _assign(client, headers, cancelled_call, second["id"])  # a second unit reinforces
    assert (await _status(client, headers, first["id"], "en_route")).status_code == 200
    transported = await _incident(client, headers, other_scene)
    await _assign(client, headers, transported, carrier["id"])
    for status in ("en_route", "on_scene", "transporting"):
        assert (await _status(client, headers, carrier["id"], status)).status_code == 200

    runtime: Runtime = monaco_app.state.runtime
    board = Subscriber(principal=Principal("w", "w", Role.DISPATCHER, "user"))
    assert await runtime.get(Hub).subscribe(board, "units") is None
    for incident_id in (cancelled_call, transported):
        cancel = await client.post(
            f"/api/incidents/{incident_id}/status",
            json={"status": "cancelled", "reason": "caller rang back: no one hurt"},
            headers=headers,
        )
        assert cancel.status_code == 200, cancel.text

    for unit in (first, second):
        now = (await client.get(f"/api/units/{unit['id']}", headers=headers)).json()
        assert (now["status"], now["incident_id"], now["hospital_id"]) == ("available", None, None)
    # A unit with a patient on board is not stood down by the desk: the crew clears it.
    carrying = (await client.get(f"/api/units/{carrier['id']}", headers=headers)).json()
    assert (carrying["status"], carrying["incident_id"]) == ("transporting", transported)

    async with runtime.sessions() as session:
        released = (
            await session.scalars(
                select(UnitStatusEntry).where(
                    UnitStatusEntry.new == "available", UnitStatusEntry.incident_id.is_not(None)
                )
            )
        ).all()
    assert sorted((e.unit_id, e.old, e.incident_id) for e in released) == sorted(
        [
            (first["id"], "en_route", cancelled_call),
            (second["id"], "dispatched", cancelled_call),
        ]
    )
    pushed = [m for m in _drain(board) if m["type"] == "unit.status_changed"]
    assert sorted((m["data"]["call_sign"], m["data"]["new"]) for m in pushed) == [
        ("MC-1", "available"),
        ("MC-2", "available"),
    ]
    trips = (await client.get("/api/dispatch/trips", headers=headers)).json()
    assert {t["state"] for t in trips if t["unit_id"] in (first["id"], second["id"])} <= {
        "abandoned"
    }


async def test_closing_a_call_treated_on_scene_frees_its_unit(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    """Treated on scene, no transport: closing the call stands the unit down with it (a unit
    left 'on scene' on a closed call would drop out of every recommendation)."""
    client = monaco_client
    headers = await auth_headers(monaco_app, client, Role.DISPATCHER)
    scene, a = _spots(monaco, 2)
    (unit,) = await _create_units(client, headers, [_unit("MC-7", "ALS", a)])
    call = await _incident(client, headers, scene)
    await _assign(client, headers, call, unit["id"])
    for status in ("en_route", "on_scene"):
        assert (await _status(client, headers, unit["id"], status)).status_code == 200
    incident = (await client.get(f"/api/incidents/{call}", headers=headers)).json()
    assert incident["status"] == "on_scene"
    closed = await client.post(
        f"/api/incidents/{call}/status", json={"status": "closed"}, headers=headers
    )
    assert closed.status_code == 200, closed.text
    now = (await client.get(f"/api/units/{unit['id']}", headers=headers)).json()
    assert (now["status"], now["incident_id"]) == ("available", None)
    runtime: Runtime = monaco_app.state.runtime
    async with runtime.sessions() as session:
        entry = await session.scalar(
            select(UnitStatusEntry).where(
                UnitStatusEntry.unit_id == unit["id"], UnitStatusEntry.new == "available"
            )
        )
    assert entry is not None
    assert (entry.old, entry.incident_id) == ("on_scene", call)
