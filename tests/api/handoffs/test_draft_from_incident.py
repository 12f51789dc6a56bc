"""A handoff drafted from the incident carries what the dispatcher or crew found there (BE-FAST,
ECG, GCS motor, mechanism of injury, the condition set by hand) to the ED's card and into FHIR,
and the FHIR author names the unit by its call sign."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers, incident_body

FINDINGS = {
    "conditions": ["stroke"],
    "mechanism": "fall from standing height",
    "befast": ["face", "arm"],
    "ecg": "non_diagnostic",
    "gcs_motor": 5,
}


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_the_incidents_findings_reach_the_card_and_fhir_with_the_units_call_sign(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    hospital = _ok(
        await client.post(
            "/api/hospitals",
            json={"name": "Stroke ED", "lat": 60.17, "lon": 24.94, "stroke_centre": True},
            headers=admin,
        ),
        201,
    )
    unit = _ok(
        await client.post(
            "/api/units",
            json={"call_sign": "HKI-31", "unit_type": "ALS", "station_lat": 60.168,
                  "station_lon": 24.941},
            headers=admin,
        ),
        201,
    )  # fmt: skip
    body = incident_body(chief_complaint="slurred speech", patients=[{"age_years": 74}])
    incident = _ok(await client.post("/api/incidents", json=body, headers=admin), 201)
    _ok(await client.put(f"/api/incidents/{incident['id']}/findings", json=FINDINGS, headers=admin))
    draft = _ok(
        await client.post(
            "/api/handoffs/draft",
            json={"incident_id": incident["id"], "unit_id": unit["id"],
                  "hospital_id": hospital["id"]},
            headers=admin,
        ),
        201,
    )  # fmt: skip
    expected = {
        "befast": ["face", "arm"],
        "ecg": "non_diagnostic",
        "gcs_motor": 5,
        "injury_mechanism": "fall from standing height",
        "conditions": ["stroke"],
    }
    assert draft["content"]["assessment"] == expected
    assert draft["picture"]["assessment"] == expected

    # Findings changed after the draft: drafting again refreshes the open draft, keeping the
    # crew's own entries.
    edited = {**draft["content"], "notes": "Wife says onset 20 min ago."}
    _ok(await client.patch(f"/api/handoffs/{draft['id']}", json={"content": edited}, headers=admin))
    _ok(
        await client.put(
            f"/api/incidents/{incident['id']}/findings",
            json={**FINDINGS, "befast": ["face", "arm", "speech"]},
            headers=admin,
        )
    )
    again = _ok(
        await client.post(
            "/api/handoffs/draft",
            json={"incident_id": incident["id"], "hospital_id": hospital["id"]},
            headers=admin,
        ),
        201,
    )
    assert again["id"] == draft["id"]
    assert again["content"]["assessment"]["befast"] == ["face", "arm", "speech"]
    assert again["content"]["notes"] == "Wife says onset 20 min ago."

    bundle = _ok(await client.get(f"/api/handoffs/{draft['id']}/fhir", headers=admin))
    resources = [e["resource"] for e in bundle["entry"]]
    [doc] = [r for r in resources if r["resourceType"] == "Composition"]
    unit_author = [a for a in doc["author"] if "identifier" in a]
    assert unit_author == [
        {
            "identifier": {"system": "https://emsync.dev/fhir/NamingSystem/unit",
                           "value": unit["id"]},
            "display": "Unit HKI-31",
        }
    ]  # fmt: skip
    [section] = [s for s in doc["section"] if s["title"] == "Prehospital assessment"]
    for said in (
        "BE-FAST positive: F: face droops, A: arm weak, S: speech slurred",
        "12-lead ECG: Not diagnostic",
        "GCS motor: 5",
        "Mechanism of injury: fall from standing height",
        "Condition set by hand: stroke",
    ):
        assert f"<p>{said}</p>" in section["text"]["div"]
    gcs = [
        r
        for r in resources
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "9268-4"
    ]
    assert [g["valueInteger"] for g in gcs] == [5]
