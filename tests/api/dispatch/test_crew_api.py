"""The crew view's API (issue #23) on Monaco, on SQLite and PostgreSQL: a crew member whose
account belongs to a unit sees only that unit's call with its road route, and moves it one tap
at a time, each tap acting once however often the offline queue sends it."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.dispatch.models import UnitStatusEntry
from emsync.routing import RoadMap
from tests.builders import PASSWORD, auth_headers, incident_body, login


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


async def _hospital(
    client: httpx.AsyncClient, admin: dict[str, str], monaco: RoadMap, name: str, node: int
) -> dict[str, Any]:
    """A hospital at the map's node `node`."""
    lat, lon = _node(monaco, node)
    body = {"name": name, "lat": lat, "lon": lon}
    return dict(await _ok(await client.post("/api/hospitals", json=body, headers=admin), 201))


async def _crew(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, unit_id: str | None
) -> dict[str, str]:
    """A crew member's account, on `unit_id`, logged in."""
    body = {"username": name, "password": PASSWORD, "role": "crew", "unit_id": unit_id}
    await _ok(await client.post("/api/users", json=body, headers=admin), 201)
    tokens = await login(client, name)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


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
    admin = await auth_headers(monaco_app, client, Role.ADMIN)
    mine, incident = await _call(client, dispatcher, monaco, "MC-11", 1)
    other, other_incident = await _call(client, dispatcher, monaco, "MC-12", 2)

    unassigned = await _crew(client, admin, "crew-none", None)
    not_yet = await client.get("/api/crew/assignment", headers=unassigned)
    assert not_yet.status_code == 404
    assert "belongs to no unit" in not_yet.json()["detail"]
    crew = await _crew(client, admin, "crew-anna", mine["id"])
    me = await _ok(await client.get("/api/auth/me", headers=crew))
    assert me["unit_id"] == mine["id"]

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
    hospital = await _hospital(client, admin, monaco, "Test General", 9000)
    crew = await _crew(client, admin, "crew-ben", unit["id"])
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
    # No GPS fix: the drive to hospital starts at the scene the crew reported, not the station.
    lon, lat = view["route"]["geometry"]["coordinates"][0]
    scene = view["incident"]
    assert abs(lat - scene["lat"]) < 1e-3
    assert abs(lon - scene["lon"]) < 1e-3
    assert view["incident"]["status"] == "transporting"
    # The dispatcher's map draws the same leg: from the scene, not from the station it left.
    leg = f"/api/map/route?unit_id={unit['id']}&hospital_id={hospital['id']}"
    drawn = await _ok(await client.get(leg, headers=admin))
    assert drawn["geometry"]["coordinates"] == view["route"]["geometry"]["coordinates"]
    # Moved to another unit by an administrator: the old token no longer acts for this one.
    users = await _ok(await client.get("/api/users", headers=admin))
    user_id = next(u["id"] for u in users if u["username"] == "crew-ben")
    spare, _ = await _call(client, admin, monaco, "MC-22", 4)
    moved_to = {"unit_id": spare["id"]}
    await _ok(await client.patch(f"/api/users/{user_id}", json=moved_to, headers=admin))
    assert (await client.get("/api/crew/assignment", headers=crew)).status_code == 401
    again = {"Authorization": f"Bearer {(await login(client, 'crew-ben'))['access_token']}"}
    view = await _ok(await client.get("/api/crew/assignment", headers=again))
    assert view["unit"]["call_sign"] == "MC-22"


async def test_a_crew_member_cannot_belong_to_a_unit_that_does_not_exist(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(monaco_app, monaco_client, Role.ADMIN)
    body = {"username": "crew-x", "password": PASSWORD, "role": "crew", "unit_id": "no-such"}
    refused = await monaco_client.post("/api/users", json=body, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "unit_id"
    users = await _ok(await monaco_client.get("/api/users", headers=admin))
    assert "crew-x" not in {u["username"] for u in users}


async def test_a_crew_reaches_only_its_own_units_handoffs(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    """Handoffs are scoped like calls: a crew writes only for its unit's call and lists, opens
    and edits no other crew's draft (a draft carries the patient's name and history)."""
    client = monaco_client
    admin = await auth_headers(monaco_app, client, Role.ADMIN)
    mine, incident = await _call(client, admin, monaco, "MC-31", 5)
    other, other_incident = await _call(client, admin, monaco, "MC-32", 6)
    hospital = await _hospital(client, admin, monaco, "Scope General", 9100)
    crew = await _crew(client, admin, "crew-cleo", mine["id"])
    theirs = await _crew(client, admin, "crew-dan", other["id"])

    def draft(incident_id: str, call_sign: str) -> dict[str, Any]:
        return {"incident_id": incident_id, "unit_id": call_sign, "hospital_id": hospital["id"]}

    own = await _ok(
        await client.post("/api/handoffs/draft", json=draft(incident["id"], "MC-31"), headers=crew),
        201,
    )
    other_draft = await _ok(
        await client.post(
            "/api/handoffs/draft", json=draft(other_incident["id"], "MC-32"), headers=theirs
        ),
        201,
    )
    # Not its call, or not as its unit: refused, and nothing was drafted.
    for body in (draft(other_incident["id"], "MC-31"), draft(incident["id"], "MC-32")):
        refused = await client.post("/api/handoffs/draft", json=body, headers=crew)
        assert refused.status_code == 403, refused.text
    created = {**draft(other_incident["id"], "MC-31"), "content": {"mechanism": "fall"}}
    assert (await client.post("/api/handoffs", json=created, headers=crew)).status_code == 403
    everything = await _ok(await client.get("/api/handoffs", headers=admin))
    assert {h["id"] for h in everything["items"]} == {own["id"], other_draft["id"]}

    listed = await _ok(await client.get("/api/handoffs", headers=crew))
    assert [h["id"] for h in listed["items"]] == [own["id"]]
    assert listed["total"] == 1
    by_call = f"/api/handoffs?incident_id={other_incident['id']}"
    assert (await _ok(await client.get(by_call, headers=crew)))["items"] == []
    assert (await _ok(await client.get(f"/api/handoffs/{own['id']}", headers=crew)))["content"]
    foreign = f"/api/handoffs/{other_draft['id']}"
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", foreign, None),
        ("PATCH", foreign, {"content": {"notes": "overwritten"}}),
        ("POST", f"{foreign}/send", {}),
        ("GET", f"{foreign}/updates", None),
        ("GET", f"{foreign}/attachments/none", None),
    ]
    for method, path, payload in attempts:
        answer = await client.request(method, path, json=payload, headers=crew)
        assert answer.status_code == 404, (method, path, answer.text)
    still = await _ok(await client.get(foreign, headers=theirs))
    assert still["content"]["notes"] is None
