"""Resources over HTTP on both backends: typed resources beside dispatch's ambulances (one
source of truth), assignment to incidents, mutual aid, and the activity log."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers, incident_body
from tests.emergency_builders import post

BOAT = {
    "name": "Rescue boat 3", "kind": "boat", "agency": "Helsinki Fire", "home_name": "Station 3",
    "home_lat": 60.16, "home_lon": 24.95, "capabilities": ["swift water"],
}  # fmt: skip


async def test_the_board_lists_ambulances_from_dispatch_and_typed_resources(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    unit = await post(
        client,
        "/api/units",
        {"call_sign": "AMB-1", "unit_type": "ALS", "station_lat": 60.17, "station_lon": 24.94},
        dispatcher,
    )
    boat = await post(client, "/api/emergency/resources", BOAT, manager)
    board = (await client.get("/api/emergency/resources", headers=manager)).json()
    assert [(r["kind"], r["name"], r["source"]) for r in board] == [
        ("ambulance", "AMB-1", "dispatch"),
        ("boat", "Rescue boat 3", "emergency"),
    ]
    assert board[0]["id"] == unit["id"]
    assert board[0]["status"] == "available"
    # An ambulance is never created here: dispatch's units are the one source.
    refused = await client.post(
        "/api/emergency/resources", json={**BOAT, "name": "x", "kind": "ambulance"}, headers=manager
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "kind"
    await client.post(
        f"/api/units/{unit['id']}/status", json={"status": "out_of_service"}, headers=dispatcher
    )
    board = (
        await client.get("/api/emergency/resources", params={"kind": "ambulance"}, headers=manager)
    ).json()
    assert [r["status"] for r in board] == ["out_of_service"]
    layer = (await client.get("/api/map/resources", headers=manager)).json()
    assert {f["properties"]["name"] for f in layer["features"]} == {"AMB-1", "Rescue boat 3"}
    assert boat["status"] == "available"


async def test_assignment_mutual_aid_and_the_activity_log(
    app: FastAPI, client: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    incident = await post(client, "/api/incidents", incident_body(), dispatcher)
    boat = await post(client, "/api/emergency/resources", BOAT, manager)
    path = f"/api/emergency/resources/{boat['id']}/assignment"
    missing = await client.post(path, json={"incident_id": "no-such-incident"}, headers=manager)
    assert missing.status_code == 404
    assigned = await post(client, path, {"incident_id": incident["id"]}, manager)
    assert (assigned["status"], assigned["incident_id"]) == ("assigned", incident["id"])
    again = await client.post(path, json={"incident_id": incident["id"]}, headers=manager)
    assert again.status_code == 409
    released = await post(client, path, {"incident_id": None}, manager)
    assert (released["status"], released["incident_id"]) == ("available", None)

    aid = await post(
        client,
        "/api/emergency/mutual-aid",
        {
            "requesting_agency": "Helsinki Fire",
            "providing_agency": "Espoo Fire",
            "resource_kind": "boat",
            "quantity": 2,
            "incident_id": incident["id"],
        },
        manager,
    )
    respond = f"/api/emergency/mutual-aid/{aid['id']}/response"
    bad = await client.post(respond, json={"status": "fulfilled"}, headers=manager)
    assert bad.status_code == 409
    assert bad.json()["field"] == "status"
    accepted = await post(
        client, respond, {"status": "accepted", "resource_ids": [boat["id"]]}, manager
    )
    assert (accepted["status"], accepted["resource_ids"]) == ("accepted", [boat["id"]])
    self_aid = await client.post(
        "/api/emergency/mutual-aid",
        json={
            "requesting_agency": "A",
            "providing_agency": "A",
            "resource_kind": "boat",
            "quantity": 1,
        },
        headers=manager,
    )
    assert self_aid.status_code == 422

    log = (
        await client.get(
            "/api/emergency/activity",
            params={"subject": "incident", "subject_id": incident["id"]},
            headers=manager,
        )
    ).json()
    assert [e["action"] for e in log] == [
        "mutual_aid_requested",
        "resource_released",
        "resource_assigned",
    ]
    assert all(e["actor"].startswith("user:") for e in log)
    # Who acted, by name (the log stores the account id; the route resolves it).
    me = (await client.get("/api/auth/me", headers=manager)).json()
    assert {e["actor_name"] for e in log} == {me["name"]}
    resource_log = (
        await client.get(
            "/api/emergency/activity",
            params={"subject": "resource", "subject_id": boat["id"]},
            headers=manager,
        )
    ).json()
    assert [e["action"] for e in resource_log] == ["released", "assigned", "created"]
    bad_subject = await client.get(
        "/api/emergency/activity", params={"subject": "planet"}, headers=manager
    )
    assert bad_subject.status_code == 422
