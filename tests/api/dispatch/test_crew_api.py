"""The crew view's API (issue #23) on Monaco, on SQLite and PostgreSQL: a crew signs on to a
unit, sees only that unit's call with its road route, and moves it one tap at a time, each tap
acting once however often the offline queue sends it."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.dispatch.models import UnitStatusEntry
from emsync.routing import RoadMap
from tests.builders import auth_headers, incident_body


def _node(road_map: RoadMap, i: int) -> tuple[float, float]:
    g = road_map.engine.graph
    return float(g.node_lat[i]), float(g.node_lon[i])


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _call(
    client: httpx.AsyncClient, dispatcher: dict[str, str], monaco: RoadMap, call_sign: str, n: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    station = _node(monaco, 100 + n)
    unit = await _ok(
        await client.post(
            "/api/units",
            json={
                "call_sign": call_sign,
                "unit_type": "ALS",
                "station_lat": station[0],
                "station_lon": station[1],
            },
            headers=dispatcher,
        ),
        201,
    )
    lat, lon = _node(monaco, 2000 + n)
    body = incident_body(
        lat=lat, lon=lon, chief_complaint=f"call {n}", patients=[{"age_years": 70}]
    )
    incident = await _ok(await client.post("/api/incidents", json=body, headers=dispatcher), 201)
    assign = f"/api/dispatch/incidents/{incident['id']}/assign"
    await _ok(await client.post(assign, json={"unit_id": unit["id"]}, headers=dispatcher), 201)
    return unit, incident


async def _transitions(app: FastAPI, unit_id: str) -> list[tuple[str, str]]:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(UnitStatusEntry)
            .where(UnitStatusEntry.unit_id == unit_id)
            .order_by(UnitStatusEntry.id)
        )
        return [(r.old, r.new) for r in rows]


async def test_a_crew_sees_only_its_units_call_and_moves_it_once_per_tap(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    client = monaco_client
    dispatcher = await auth_headers(monaco_app, client, Role.DISPATCHER)
    mine, incident = await _call(client, dispatcher, monaco, "MC-11", 1)
    other, other_incident = await _call(client, dispatcher, monaco, "MC-12", 2)
    crew = await auth_headers(monaco_app, client, Role.CREW)

    not_yet = await client.get("/api/crew/assignment", headers=crew)
    assert not_yet.status_code == 404
    assert "sign-on" in not_yet.json()["detail"]
    choices = await _ok(await client.get("/api/crew/units", headers=crew))
    assert {c["call_sign"] for c in choices} >= {"MC-11", "MC-12"}
    await _ok(await client.put("/api/crew/sign-on", json={"unit_id": mine["id"]}, headers=crew))

    view = await _ok(await client.get("/api/crew/assignment", headers=crew))
    assert view["unit"]["call_sign"] == "MC-11"
    assert view["incident"]["id"] == incident["id"]
    assert view["incident"]["address"] == incident["address"]
    assert [p["age_years"] for p in view["incident"]["patients"]] == [70]
    assert view["route"]["to"] == "incident"
    assert view["route"]["eta_s"] > 0
    assert view["route"]["geometry"]["type"] == "LineString"
    assert len(view["route"]["geometry"]["coordinates"]) >= 2
    # A crew reads no other call and moves no other unit.
    for path in ("/api/incidents", f"/api/incidents/{other_incident['id']}"):
        assert (await client.get(path, headers=crew)).status_code == 403
    moved = await client.post(
        f"/api/units/{other['id']}/status", json={"status": "en_route"}, headers=crew
    )
    assert moved.status_code == 403

    # One tap, sent three times by a queue that never heard back: one transition.
    tap = {**crew, "Idempotency-Key": "tap-en-route"}
    answers = [
        await client.post("/api/crew/status", json={"status": "en_route"}, headers=tap)
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert {a.json()["status"] for a in answers} == {"en_route"}
    on_scene = {**crew, "Idempotency-Key": "tap-on-scene"}
    await _ok(await client.post("/api/crew/status", json={"status": "on_scene"}, headers=on_scene))
    assert await _transitions(monaco_app, mine["id"]) == [
        ("available", "dispatched"),
        ("dispatched", "en_route"),
        ("en_route", "on_scene"),
    ]
    # The lifecycle still decides: 'dispatched' comes only from an assignment.
    refused = await client.post("/api/crew/status", json={"status": "dispatched"}, headers=crew)
    assert refused.status_code == 422


async def test_transporting_routes_the_crew_to_the_hospital_it_chose(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    client = monaco_client
    admin = await auth_headers(monaco_app, client, Role.ADMIN)
    unit, _ = await _call(client, admin, monaco, "MC-21", 3)
    lat, lon = _node(monaco, 9000)
    hospital = await _ok(
        await client.post(
            "/api/hospitals", json={"name": "Test General", "lat": lat, "lon": lon}, headers=admin
        ),
        201,
    )
    crew = await auth_headers(monaco_app, client, Role.CREW)
    await _ok(await client.put("/api/crew/sign-on", json={"unit_id": unit["id"]}, headers=crew))
    for status in ("en_route", "on_scene"):
        await _ok(await client.post("/api/crew/status", json={"status": status}, headers=crew))
    moved = await _ok(
        await client.post(
            "/api/crew/status",
            json={"status": "transporting", "hospital_id": hospital["id"]},
            headers=crew,
        )
    )
    assert moved["hospital_id"] == hospital["id"]
    view = await _ok(await client.get("/api/crew/assignment", headers=crew))
    assert view["route"]["to"] == "hospital"
    assert view["incident"]["status"] == "transporting"
    # Signing off ends the crew's view of the call.
    assert (await client.delete("/api/crew/sign-on", headers=crew)).status_code == 204
    assert (await client.get("/api/crew/assignment", headers=crew)).status_code == 404
