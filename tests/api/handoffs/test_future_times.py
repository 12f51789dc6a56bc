"""Issue #14 item 3: observation times of a handoff (onset, signs, treatment, updates) later than
now plus the allowed skew are refused naming each field; the ETA may lie ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import atmist, handoff_body

HOSPITAL = "HOSP-CLOCK"


async def test_future_observation_times_are_refused_and_nothing_is_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    admin = await auth_headers(app, client, Role.ADMIN)
    await client.post(f"/api/handoffs/hospital-keys/{HOSPITAL}", headers=admin)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    later = (datetime.now(UTC) + timedelta(days=365 * 70)).isoformat()
    content = atmist(
        time_of_onset=later,
        signs=[{"ts": later, "hr": 122, "sbp": 120, "dbp": 80}],
        treatment=[{"kind": "procedure", "name": "splint", "at": later}],
    )
    refused = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], HOSPITAL, content=content), headers=crew
    )
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {
        "body.content.time_of_onset",
        "body.content.signs.0.ts",
        "body.content.treatment.0.at",
    }
    listed = await client.get(f"/api/handoffs?incident_id={incident['id']}", headers=crew)
    assert listed.json()["total"] == 0

    ok = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], HOSPITAL), headers=crew
    )
    assert ok.status_code == 201, ok.text
    handoff = ok.json()["id"]
    edit = await client.patch(f"/api/handoffs/{handoff}", json={"content": content}, headers=crew)
    assert edit.status_code == 422
    sent = await client.post(f"/api/handoffs/{handoff}/send", headers=crew)
    assert sent.status_code == 200, sent.text
    update = await client.post(
        f"/api/handoffs/{handoff}/updates",
        json={"kind": "vitals", "vitals": {"ts": later, "hr": 130}},
        headers=crew,
    )
    assert update.status_code == 422
    assert update.json()["errors"][0]["field"] == "body.vitals.ts"
