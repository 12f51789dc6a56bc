"""Hospitals (map import, coordinators' scope, diversion ranking) and the map's GeoJSON layers."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.routing import RoadMap
from tests.builders import auth_headers, incident_body


def _spots(road_map: RoadMap, count: int, seed: int) -> list[tuple[float, float]]:
    g = road_map.engine.graph
    picks = np.random.default_rng(seed).choice(g.node_count, size=count, replace=False)
    return [(float(g.node_lat[i]), float(g.node_lon[i])) for i in picks]


async def _hospital(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, spot: tuple[float, float]
) -> dict[str, Any]:
    body = {"name": name, "lat": spot[0], "lon": spot[1], "stroke_centre": True}
    response = await client.post("/api/hospitals", json=body, headers=headers)
    assert response.status_code == 201, response.text
    hospital: dict[str, Any] = response.json()
    return hospital


async def test_diverted_stroke_centre_is_ranked_after_the_open_one(
    map_app: FastAPI, map_client: httpx.AsyncClient, road_map: RoadMap
) -> None:
    client = map_client
    admin = await auth_headers(map_app, client, Role.ADMIN)
    imported = (await client.post("/api/hospitals/import-map", headers=admin)).json()
    assert imported["added"] == imported["in_map"] == len(road_map.hospitals)
    again = (await client.post("/api/hospitals/import-map", headers=admin)).json()
    assert again["added"] == 0
    scene, a, b = _spots(road_map, 3, seed=3)
    first = await _hospital(client, admin, "Alpha Stroke", a)
    second = await _hospital(client, admin, "Beta Stroke", b)
    dispatcher = await auth_headers(map_app, client, Role.DISPATCHER)
    incident = (
        await client.post(
            "/api/incidents",
            json=incident_body(
                chief_complaint="facial droop, slurred speech", lat=scene[0], lon=scene[1]
            ),
            headers=dispatcher,
        )
    ).json()
    url = f"/api/hospitals/destinations?incident_id={incident['id']}"
    before = (await client.get(url, headers=dispatcher)).json()
    assert before["conditions"] == ["stroke"]
    assert before["required"] == ["stroke_centre"]
    open_order = [r["name"] for r in before["ranked"]]
    assert sorted(open_order) == ["Alpha Stroke", "Beta Stroke"]
    nearest = first if open_order[0] == "Alpha Stroke" else second
    # Map hospitals lack the capability: excluded, and the reason says why.
    reasons = {r["reason"] for r in before["excluded"]}
    assert reasons <= {"no stroke centre", "no emergency department"}

    # Its own coordinator puts the nearest on diversion; another hospital's cannot touch it.
    other = second if nearest is first else first
    outsider = await auth_headers(
        map_app, client, Role.HOSPITAL_COORDINATOR, hospital_id=other["id"]
    )
    denied = await client.patch(
        f"/api/hospitals/{nearest['id']}", json={"diversion": True}, headers=outsider
    )
    assert denied.status_code == 403
    coordinator = await auth_headers(
        map_app, client, Role.HOSPITAL_COORDINATOR, hospital_id=nearest["id"]
    )
    diverted = await client.patch(
        f"/api/hospitals/{nearest['id']}",
        json={"diversion": True, "diversion_reason": "CT scanner down", "ed_beds_available": 0},
        headers=coordinator,
    )
    assert diverted.status_code == 200, diverted.text
    assert diverted.json()["diversion_reason"] == "CT scanner down"
    after = (await client.get(url, headers=dispatcher)).json()
    assert [r["name"] for r in after["ranked"]] == open_order[::-1]
    assert "on diversion: ranked after the 1 open hospital(s)" in after["ranked"][1]["reason"]

    # When the other one cannot take stroke patients either, the diverted one is first, and says so.
    await client.patch(
        f"/api/hospitals/{other['id']}", json={"stroke_centre": False}, headers=admin
    )
    last = (await client.get(url, headers=dispatcher)).json()
    assert last["ranked"][0]["name"] == nearest["name"]
    assert "no other reachable hospital can take the patient" in last["ranked"][0]["reason"]
    invalid = await client.patch(
        f"/api/hospitals/{other['id']}", json={"ed_beds_available": -1}, headers=admin
    )
    assert invalid.status_code == 422


async def test_map_layers_are_geojson(
    map_app: FastAPI, map_client: httpx.AsyncClient, road_map: RoadMap
) -> None:
    client = map_client
    headers = await auth_headers(map_app, client, Role.DISPATCHER)
    info = (await client.get("/api/map", headers=headers)).json()
    assert info["nodes"] == road_map.summary.nodes
    west, south, east, north = info["bbox"]
    mid_lon, mid_lat = (west + east) / 2, (south + north) / 2
    bbox = f"{mid_lon - 0.003},{mid_lat - 0.003},{mid_lon + 0.003},{mid_lat + 0.003}"
    roads = (await client.get(f"/api/map/roads?bbox={bbox}&limit=50", headers=headers)).json()
    assert roads["type"] == "FeatureCollection"
    assert 0 < len(roads["features"]) <= 50
    too_big = await client.get("/api/map/roads?bbox=0,0,10,10", headers=headers)
    assert too_big.status_code == 422
    station, scene = _spots(road_map, 2, seed=5)
    unit = (
        await client.post(
            "/api/units",
            json={
                "call_sign": "GEO-1",
                "unit_type": "BLS",
                "station_lat": station[0],
                "station_lon": station[1],
            },
            headers=headers,
        )
    ).json()
    incident = (
        await client.post(
            "/api/incidents", json=incident_body(lat=scene[0], lon=scene[1]), headers=headers
        )
    ).json()
    units = (await client.get("/api/map/units", headers=headers)).json()
    assert units["features"][0]["geometry"]["coordinates"] == [station[1], station[0]]
    assert units["features"][0]["properties"]["at_station"] is True
    incidents = (await client.get("/api/map/incidents", headers=headers)).json()
    assert incidents["features"][0]["properties"]["number"] == incident["number"]
    assert "caller_name" not in incidents["features"][0]["properties"]
    route = (
        await client.get(
            f"/api/map/route?unit_id={unit['id']}&incident_id={incident['id']}", headers=headers
        )
    ).json()
    assert route["geometry"]["type"] == "LineString"
    assert route["properties"]["eta_s"] > 0
    coverage = (await client.get("/api/map/coverage?minutes=8", headers=headers)).json()
    assert coverage["available_units"] == 1
    assert 0 < coverage["share"] <= 1
    hospitals = (await client.get("/api/map/hospitals", headers=headers)).json()
    assert hospitals["type"] == "FeatureCollection"
    auditor = await auth_headers(map_app, client, Role.AUDITOR)
    assert (await client.get("/api/map/units", headers=auditor)).status_code == 403


async def test_a_ladder_fall_goes_to_the_trauma_centre_and_the_crew_can_override(
    map_app: FastAPI, map_client: httpx.AsyncClient, road_map: RoadMap
) -> None:
    client = map_client
    admin = await auth_headers(map_app, client, Role.ADMIN)
    scene, near, far = _spots(road_map, 3, seed=11)
    for name, spot, extra in (
        ("Corner clinic", near, {}),
        ("Level 1 trauma centre", far, {"trauma_level": 1}),
    ):
        body = {"name": name, "lat": spot[0], "lon": spot[1], **extra}
        assert (await client.post("/api/hospitals", json=body, headers=admin)).status_code == 201
    crew = await auth_headers(map_app, client, Role.PARAMEDIC)
    incident = (
        await client.post(
            "/api/incidents",
            json=incident_body(
                chief_complaint="Fall from ladder, head injury",
                priority=1,
                lat=scene[0],
                lon=scene[1],
                patients=[{"age_years": 48, "sex": "male"}],
            ),
            headers=crew,
        )
    ).json()
    url = f"/api/hospitals/destinations?incident_id={incident['id']}"
    ladder = (await client.get(url, headers=crew)).json()
    assert ladder["required"] == ["trauma_centre_any"]
    assert [n["criterion"] for n in ladder["needs"]] == ["yellow.mechanism.fall"]
    assert "CDC/ACS 2021" in ladder["needs"][0]["source"]
    assert [r["name"] for r in ladder["ranked"]] == ["Level 1 trauma centre"]
    assert [(r["name"], r["reason"]) for r in ladder["excluded"]] == [
        ("Corner clinic", "no trauma centre (any level)")
    ]
    assert any("how high" in q for q in ladder["questions"])

    # The triage's vital signs add a red criterion: a level 1-2 centre.
    triage = {
        "incident_id": incident["id"],
        "patient_id": incident["patients"][0]["id"],
        "age": 48,
        "sex": "male",
        "chief_complaint": "Fall from ladder, head injury",
        "injury": True,
        "sbp": 84,
        "dbp": 50,
        "hr": 118,
        "rr": 24,
        "spo2": 95,
        "temp": 36.4,
    }
    assert (await client.post("/api/triage", json=triage, headers=crew)).status_code == 200
    shocked = (await client.get(url, headers=crew)).json()
    assert shocked["required"] == ["trauma_centre"]
    assert "red.vitals.sbp" in [n["criterion"] for n in shocked["needs"]]

    # The crew decides it is a stroke after all: the override replaces the rules' needs.
    findings = {"conditions": ["stroke"], "befast": ["face"]}
    put = await client.put(f"/api/incidents/{incident['id']}/findings", json=findings, headers=crew)
    assert put.status_code == 200, put.text
    overridden = (await client.get(url, headers=crew)).json()
    assert overridden["overridden"] is True
    assert overridden["required"] == ["stroke_centre"]
    assert {n["criterion"]: n["applied"] for n in overridden["needs"]}["red.vitals.sbp"] is False
