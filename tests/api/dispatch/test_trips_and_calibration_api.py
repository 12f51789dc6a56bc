"""Trip times from unit status timestamps, atomic assignment, and ETA calibration."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.core.errors import NotFound
from emsync.core.ids import new_id
from emsync.core.realtime import Hub, Subscriber
from emsync.core.runtime import Runtime
from emsync.dispatch.models import Trip
from emsync.routing import LatLon, RoadClass, RoadMap
from emsync.triage.events import PatientTriaged
from tests.api.dispatch.conftest import ManualClock
from tests.builders import auth_headers, incident_body


def _node(road_map: RoadMap, index: int) -> tuple[float, float]:
    g = road_map.engine.graph
    i = index % g.node_count
    return float(g.node_lat[i]), float(g.node_lon[i])


async def _unit(
    client: httpx.AsyncClient, headers: dict[str, str], spot: tuple[float, float]
) -> dict[str, Any]:
    body = {"call_sign": "MC-1", "unit_type": "ALS", "station_lat": spot[0], "station_lon": spot[1]}
    response = await client.post("/api/units", json=body, headers=headers)
    assert response.status_code == 201, response.text
    unit: dict[str, Any] = response.json()
    return unit


async def test_trip_times_come_from_status_timestamps(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap, clock: ManualClock
) -> None:
    client = monaco_client
    headers = await auth_headers(monaco_app, client, Role.DISPATCHER)
    admin = await auth_headers(monaco_app, client, Role.ADMIN)
    scene = _node(monaco, 1000)
    unit = await _unit(client, headers, _node(monaco, 5000))
    hospital = await client.post(
        "/api/hospitals",
        json={"name": "Test General", "lat": _node(monaco, 9000)[0], "lon": _node(monaco, 9000)[1]},
        headers=admin,
    )
    assert hospital.status_code == 201, hospital.text
    incident = (
        await client.post(
            "/api/incidents", json=incident_body(lat=scene[0], lon=scene[1]), headers=headers
        )
    ).json()

    async def status(name: str, **extra: Any) -> None:
        response = await client.post(
            f"/api/units/{unit['id']}/status", json={"status": name, **extra}, headers=headers
        )
        assert response.status_code == 200, response.text

    assigned = await client.post(
        f"/api/dispatch/incidents/{incident['id']}/assign",
        json={"unit_id": unit["id"]},
        headers=headers,
    )
    assert assigned.status_code == 201, assigned.text
    clock.advance(45)  # chute time: not travel
    await status("en_route")
    clock.advance(300)
    await status("on_scene")
    clock.advance(600)
    await status("transporting", hospital_id=hospital.json()["id"])
    # The bridge: choosing the destination drafts the pre-arrival handoff for this unit.
    drafts = (
        await client.get(f"/api/handoffs?incident_id={incident['id']}", headers=headers)
    ).json()
    assert [(d["status"], d["hospital_id"], d["unit_id"]) for d in drafts["items"]] == [
        ("draft", hospital.json()["id"], unit["id"])
    ]
    assert drafts["items"][0]["eta"] is not None
    runtime: Runtime = monaco_app.state.runtime
    assert runtime.bus.dead_letters == []
    clock.advance(420)
    await status("at_hospital")
    clock.advance(900)
    await status("available")

    trips = (await client.get("/api/dispatch/trips", headers=headers)).json()
    by_kind = {t["kind"]: t for t in trips}
    assert by_kind["response"]["actual_s"] == 300.0
    assert by_kind["transport"]["actual_s"] == 420.0
    assert {t["state"] for t in trips} == {"completed"}
    assert by_kind["response"]["region"] == "monaco"
    final = (await client.get(f"/api/incidents/{incident['id']}", headers=headers)).json()
    assert final["status"] == "at_hospital"
    unit_after = (await client.get(f"/api/units/{unit['id']}", headers=headers)).json()
    assert unit_after["incident_id"] is None


async def test_a_failed_incident_transition_leaves_the_unit_available(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    client = monaco_client
    headers = await auth_headers(monaco_app, client, Role.DISPATCHER)
    scene = _node(monaco, 1234)
    unit = await _unit(client, headers, _node(monaco, 4321))
    incident = (
        await client.post(
            "/api/incidents", json=incident_body(lat=scene[0], lon=scene[1]), headers=headers
        )
    ).json()
    cancelled = await client.post(
        f"/api/incidents/{incident['id']}/status",
        json={"status": "cancelled", "reason": "test"},
        headers=headers,
    )
    assert cancelled.status_code == 200
    response = await client.post(
        f"/api/dispatch/incidents/{incident['id']}/assign",
        json={"unit_id": unit["id"]},
        headers=headers,
    )
    assert response.status_code == 409
    assert "cannot move from 'cancelled' to 'dispatched'" in response.json()["detail"]
    after = (await client.get(f"/api/units/{unit['id']}", headers=headers)).json()
    assert after["status"] == "available"
    assert after["incident_id"] is None
    assert after["status_changed_at"] == unit["status_changed_at"]
    assert (await client.get("/api/dispatch/trips", headers=headers)).json() == []
    # A paramedic may move units but not assign them.
    medic = await auth_headers(monaco_app, client, Role.PARAMEDIC)
    forbidden = await client.post(
        f"/api/dispatch/incidents/{incident['id']}/assign",
        json={"unit_id": unit["id"]},
        headers=medic,
    )
    assert forbidden.status_code == 403


TRUE_FACTORS = {RoadClass.PRIMARY: 0.6, RoadClass.SECONDARY: 0.7, RoadClass.TERTIARY: 0.8}


async def test_calibration_recovers_slower_real_speeds_from_simulated_trips(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    """Trips whose real speeds are 60-80% of the profile's: the fit must bring ETAs closer."""
    runtime: Runtime = monaco_app.state.runtime
    engine = monaco.engine
    g = engine.graph
    rng = np.random.default_rng(11)
    headers = await auth_headers(monaco_app, monaco_client, Role.ADMIN)
    unit = await _unit(monaco_client, headers, _node(monaco, 77))
    now = runtime.clock()
    async with runtime.sessions() as session:
        made = 0
        while made < 60:
            a, b = rng.choice(g.node_count, size=2, replace=False)
            origin = LatLon(float(g.node_lat[a]), float(g.node_lon[a]))
            dest = LatLon(float(g.node_lat[b]), float(g.node_lon[b]))
            try:
                route = engine.route(origin, dest)
            except NotFound:
                continue  # an unreachable pair is no trip
            if route.eta_s < 60:
                continue
            actual = sum(s / TRUE_FACTORS.get(c, 1.0) for c, s in route.class_seconds.items())
            session.add(
                Trip(
                    id=new_id(),
                    unit_id=unit["id"],
                    kind="response",
                    region="monaco",
                    origin_lat=origin.lat,
                    origin_lon=origin.lon,
                    dest_lat=dest.lat,
                    dest_lon=dest.lon,
                    predicted_s=route.eta_s,
                    class_seconds={c.label: s for c, s in route.class_seconds.items() if s > 0},
                    created_at=now,
                    started_at=now,
                    ended_at=now,
                    actual_s=actual * float(rng.normal(1.0, 0.03)),
                    state="completed",
                )
            )
            made += 1
        await session.commit()

    dispatcher = await auth_headers(monaco_app, monaco_client, Role.DISPATCHER)
    denied = await monaco_client.post("/api/dispatch/calibration", headers=dispatcher)
    assert denied.status_code == 403
    response = await monaco_client.post("/api/dispatch/calibration", headers=headers)
    assert response.status_code == 200, response.text
    (report,) = response.json()
    assert report["region"] == "monaco"
    assert report["trips"] == 60
    assert report["applied"] is False
    assert report["after"]["mean_abs_error_s"] < report["before"]["mean_abs_error_s"] / 3
    assert report["after"]["share_within_2_min"] >= report["before"]["share_within_2_min"]
    assert abs(report["speed_factors"]["primary"] - 0.6) < 0.15
    assert engine.speed_factors[RoadClass.PRIMARY] == 1.0
    try:
        applied = await monaco_client.post("/api/dispatch/calibration?apply=true", headers=headers)
        assert applied.json()[0]["applied"] is True
        assert abs(engine.speed_factors[RoadClass.PRIMARY] - 0.6) < 0.15
    finally:
        engine.set_speed_factors(dict.fromkeys(RoadClass, 1.0))


async def test_a_triaged_patient_without_a_unit_pushes_a_recommendation(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap
) -> None:
    runtime: Runtime = monaco_app.state.runtime
    headers = await auth_headers(monaco_app, monaco_client, Role.DISPATCHER)
    await _unit(monaco_client, headers, _node(monaco, 2222))
    scene = _node(monaco, 3333)
    incident = (
        await monaco_client.post(
            "/api/incidents", json=incident_body(lat=scene[0], lon=scene[1]), headers=headers
        )
    ).json()
    watcher = Subscriber(principal=Principal("w", "w", Role.DISPATCHER, "user"))
    assert await runtime.get(Hub).subscribe(watcher, "dispatch") is None
    await runtime.bus.publish(
        PatientTriaged(
            incident_id=incident["id"],
            patient_id="p1",
            level=1,
            news2=9,
            mode="model",
            model_version="test",
            chief_complaint="collapse",
        )
    )
    message = watcher.queue.get_nowait()
    assert message["type"] == "dispatch.recommended"
    assert message["data"]["trigger"] == "triage.patient_triaged"
    assert [r["call_sign"] for r in message["data"]["ranked"]] == ["MC-1"]
