"""Dispatch excludes a rostered unit without a qualified crew on shift, with the reason, and
sends it again once a qualified crew is on shift (SQLite and PostgreSQL, the Monaco map)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import numpy as np
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.routing import RoadMap
from tests.api.dispatch.conftest import ManualClock
from tests.builders import auth_headers, incident_body
from tests.emergency_builders import post, shift


async def test_a_unit_without_a_qualified_crew_is_excluded_with_its_reason(
    monaco_app: FastAPI, monaco_client: httpx.AsyncClient, monaco: RoadMap, clock: ManualClock
) -> None:
    client = monaco_client
    dispatcher = await auth_headers(monaco_app, client, Role.DISPATCHER)
    manager = await auth_headers(monaco_app, client, Role.EMERGENCY_MANAGER)
    g = monaco.engine.graph
    scene, a, b = np.random.default_rng(3).choice(g.node_count, size=3, replace=False)

    def spot(i: int) -> tuple[float, float]:
        return float(g.node_lat[i]), float(g.node_lon[i])

    units = []
    for call_sign, at in (("ALS-10", a), ("ALS-11", b)):
        lat, lon = spot(at)
        units.append(
            await post(
                client,
                "/api/units",
                {
                    "call_sign": call_sign,
                    "unit_type": "ALS",
                    "station_lat": lat,
                    "station_lon": lon,
                },
                dispatcher,
            )
        )
    rostered = units[0]
    emt = await post(
        client,
        "/api/emergency/people",
        {"name": "Eva EMT", "agency": "EMS", "qualifications": [{"kind": "emt"}]},
        manager,
    )
    driver = await post(
        client,
        "/api/emergency/people",
        {"name": "Dan Driver", "agency": "EMS", "qualifications": [{"kind": "driver"}]},
        manager,
    )
    now = clock.now
    for person in (emt, driver):
        await post(
            client,
            f"/api/emergency/people/{person['id']}/shifts",
            shift(now - timedelta(hours=1), now + timedelta(hours=11), unit_id=rostered["id"]),
            manager,
        )
    lat, lon = spot(scene)
    incident = await post(
        client, "/api/incidents", incident_body(priority=1, lat=lat, lon=lon), dispatcher
    )
    path = f"/api/dispatch/incidents/{incident['id']}/recommendation"
    rec = (await client.get(path, headers=dispatcher)).json()
    excluded = {r["call_sign"]: r["reason"] for r in rec["excluded"]}
    assert excluded == {"ALS-10": "no qualified crew on shift: needs paramedic"}
    assert [r["call_sign"] for r in rec["ranked"]] == ["ALS-11"]  # never rostered: not judged
    crews = {
        c["call_sign"]: c
        for c in (await client.get("/api/emergency/unit-crews", headers=manager)).json()
    }
    assert crews["ALS-10"]["crew"] == ["Dan Driver", "Eva EMT"] or sorted(
        crews["ALS-10"]["crew"]
    ) == ["Dan Driver", "Eva EMT"]
    assert crews["ALS-10"]["problem"] == "no qualified crew on shift: needs paramedic"

    medic = await post(
        client,
        "/api/emergency/people",
        {"name": "Pia Paramedic", "agency": "EMS", "qualifications": [{"kind": "paramedic"}]},
        manager,
    )
    await post(
        client,
        f"/api/emergency/people/{medic['id']}/shifts",
        shift(now - timedelta(minutes=5), now + timedelta(hours=8), unit_id=rostered["id"]),
        manager,
    )
    rec = (await client.get(path, headers=dispatcher)).json()
    assert sorted(r["call_sign"] for r in rec["ranked"]) == ["ALS-10", "ALS-11"]
    clock.advance(12 * 3600)  # the shifts are over: nobody on it
    rec = (await client.get(path, headers=dispatcher)).json()
    assert {r["call_sign"]: r["reason"] for r in rec["excluded"]} == {"ALS-10": "no crew on shift"}
