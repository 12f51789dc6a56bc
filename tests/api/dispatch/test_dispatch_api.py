"""Units, recommendation and assignment over HTTP, on SQLite and PostgreSQL, on two real maps."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.core.realtime import Hub, Subscriber
from emsync.core.runtime import Runtime
from emsync.routing import LatLon, RoadMap
from tests.builders import auth_headers, incident_body


def _spots(road_map: RoadMap, count: int) -> list[tuple[float, float]]:
    """`count` distinct road positions spread over the map (graph nodes, seeded)."""
    g = road_map.engine.graph
    picks = np.random.default_rng(7).choice(g.node_count, size=count, replace=False)
    return [(float(g.node_lat[i]), float(g.node_lon[i])) for i in picks]


def _drain(sub: Subscriber) -> list[dict[str, Any]]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def _unit(call_sign: str, unit_type: str, spot: tuple[float, float]) -> dict[str, Any]:
    return {
        "call_sign": call_sign,
        "unit_type": unit_type,
        "station_name": "Central",
        "station_lat": spot[0],
        "station_lon": spot[1],
        "crew": ["A. Medic", "B. Driver"],
    }


async def _create_units(
    client: httpx.AsyncClient, headers: dict[str, str], units: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for body in units:
        response = await client.post("/api/units", json=body, headers=headers)
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


async def _status(
    client: httpx.AsyncClient, headers: dict[str, str], unit_id: str, status: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/api/units/{unit_id}/status", json={"status": status, **extra}, headers=headers
    )


async def test_create_unit_recommend_assign_and_drive_to_scene(
    map_app: FastAPI, map_client: httpx.AsyncClient, road_map: RoadMap
) -> None:
    client = map_client
    headers = await auth_headers(map_app, client, Role.DISPATCHER)
    scene, near, mid, far, broken = _spots(road_map, 5)
    _, _, _, als_broken = await _create_units(
        client,
        headers,
        [
            _unit("ALS-1", "ALS", mid),
            _unit("BLS-1", "BLS", near),
            _unit("ALS-2", "ALS", far),
            _unit("ALS-3", "ALS", broken),
        ],
    )
    assert (await _status(client, headers, als_broken["id"], "out_of_service")).status_code == 200
    runtime: Runtime = map_app.state.runtime
    hub = runtime.get(Hub)
    watcher = Subscriber(principal=Principal("w", "w", Role.DISPATCHER, "user"))
    for channel in ("units", "dispatch"):
        assert await hub.subscribe(watcher, channel) is None
    paramedic = Subscriber(principal=Principal("p", "p", Role.PARAMEDIC, "user"))
    assert await hub.subscribe(paramedic, "units") is None
    assert await hub.subscribe(paramedic, "dispatch") == "not allowed to subscribe to 'dispatch'"
    incident = (
        await client.post(
            "/api/incidents",
            json=incident_body(priority=1, lat=scene[0], lon=scene[1]),
            headers=headers,
        )
    ).json()

    response = await client.get(
        f"/api/dispatch/incidents/{incident['id']}/recommendation", headers=headers
    )
    assert response.status_code == 200, response.text
    rec = response.json()
    assert rec["urgency"] == 1
    assert rec["als_required"] is True
    ranked = {r["call_sign"]: r for r in rec["ranked"]}
    excluded = {r["call_sign"]: r for r in rec["excluded"]}
    assert set(ranked) == {"ALS-1", "ALS-2"}
    assert excluded["BLS-1"]["reason"] == "BLS cannot take priority 1: ALS required"
    assert excluded["ALS-3"]["reason"] == "out of service"
    # The ETAs are the engine's many-to-one answer from each unit's station (no GPS fix yet).
    engine = road_map.engine
    expected = engine.travel_times_to([LatLon(*mid), LatLon(*far)], LatLon(*scene))
    assert [ranked["ALS-1"]["eta_s"], ranked["ALS-2"]["eta_s"]] == [
        round(float(s), 1) for s in expected
    ]
    first = rec["ranked"][0]
    assert first["rank"] == 1
    assert "fastest of 2 eligible" in first["reason"]
    assert "no GPS fix" in first["reason"]
    assert first["eta_s"] <= rec["ranked"][1]["eta_s"]

    # The new call without a unit was pushed to dispatchers with the same ranking.
    pushed = _drain(watcher)
    recommended = [m for m in pushed if m["type"] == "dispatch.recommended"]
    assert [r["call_sign"] for r in recommended[0]["data"]["ranked"]] == [
        r["call_sign"] for r in rec["ranked"]
    ]

    assigned = await client.post(
        f"/api/dispatch/incidents/{incident['id']}/assign",
        json={"unit_id": first["unit_id"]},
        headers=headers,
    )
    assert assigned.status_code == 201, assigned.text
    body = assigned.json()
    assert body["unit"]["status"] == "dispatched"
    assert body["unit"]["incident_id"] == incident["id"]
    assert body["incident_status"] == "dispatched"
    assert body["route"]["geometry"]["type"] == "LineString"
    assert body["eta_s"] == first["eta_s"]
    again = await client.post(
        f"/api/dispatch/incidents/{incident['id']}/assign",
        json={"unit_id": first["unit_id"]},
        headers=headers,
    )
    assert again.status_code == 409
    assert "cannot move from 'dispatched' to 'dispatched'" in again.json()["detail"]

    moved = await client.put(
        f"/api/units/{first['unit_id']}/position",
        json={"lat": scene[0], "lon": scene[1], "speed_mps": 12.5, "heading": 90},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    for status in ("en_route", "on_scene"):
        assert (await _status(client, headers, first["unit_id"], status)).status_code == 200
    after = (await client.get(f"/api/incidents/{incident['id']}", headers=headers)).json()
    assert after["status"] == "on_scene"
    trips = (await client.get("/api/dispatch/trips", headers=headers)).json()
    assert [(t["kind"], t["state"]) for t in trips] == [("response", "completed")]
    assert abs(trips[0]["predicted_s"] - body["eta_s"]) < 0.1
    assert trips[0]["actual_s"] >= 0
    types = [m["type"] for m in _drain(watcher) if m["channel"] == "units"]
    assert types.count("unit.status_changed") == 3
    assert "unit.assigned" in types
    assert "unit.position_changed" in types
    # A unit on scene cannot go back to dispatched or out of service.
    bad = await _status(client, headers, first["unit_id"], "out_of_service")
    assert bad.status_code == 409
    unit_now = (await client.get(f"/api/units/{first['unit_id']}", headers=headers)).json()
    assert unit_now["status"] == "on_scene"


async def test_an_address_only_incident_says_how_to_place_it_without_its_id(
    map_app: FastAPI, map_client: httpx.AsyncClient, road_map: RoadMap
) -> None:
    headers = await auth_headers(map_app, map_client, Role.DISPATCHER)
    body = incident_body(
        lat=None, lon=None, address="Qwxz Vbnmjk 9999"
    )  # nowhere on either map: not geocoded
    incident = (await map_client.post("/api/incidents", json=body, headers=headers)).json()
    url = f"/api/dispatch/incidents/{incident['id']}/recommendation"
    refused = await map_client.get(url, headers=headers)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert f"incident #{incident['number']} has only an address" in detail
    assert "click its place on the map" in detail
    assert incident["id"] not in detail
    spot = _spots(road_map, 1)[0]
    placed = await map_client.patch(
        f"/api/incidents/{incident['id']}", json={"lat": spot[0], "lon": spot[1]}, headers=headers
    )
    assert placed.status_code == 200, placed.text
    assert (await map_client.get(url, headers=headers)).status_code == 200
