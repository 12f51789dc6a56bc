"""POST /api/triage end to end: assessment, storage on the patient, the PatientTriaged event."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.triage.events import PatientTriaged
from tests.builders import auth_headers, incident_body

SICK: dict[str, Any] = {
    "age": 78,
    "sex": "male",
    "chief_complaint": "chest pain, short of breath",
    "arrival_mode": "public_ambulance",
    "consciousness": "C",
    "pain": True,
    "nrs_pain": 8,
    "sbp": 88,
    "dbp": 50,
    "hr": 132,
    "rr": 30,
    "temp": 38.9,
    "spo2": 86,
}


async def test_triage_scores_explains_and_stores_on_the_patient(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    seen: list[PatientTriaged] = []

    async def capture(event: PatientTriaged) -> None:
        seen.append(event)

    runtime: Runtime = app.state.runtime
    runtime.bus.subscribe(PatientTriaged, capture)
    headers = await auth_headers(app, client, Role.PARAMEDIC)
    body = incident_body(patients=[{"age_years": 78, "sex": "male"}])
    incident = (await client.post("/api/incidents", json=body, headers=headers)).json()
    patient_id = incident["patients"][0]["id"]
    response = await client.post(
        "/api/triage",
        json={**SICK, "incident_id": incident["id"], "patient_id": patient_id},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["level"] in {1, 2}
    assert result["news2"]["band"] == "high"
    assert result["news2"]["total"] >= 7
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-3
    assert result["explanation"]
    assert result["model_version"]
    stored = (await client.get(f"/api/incidents/{incident['id']}", headers=headers)).json()
    assert stored["patients"][0]["acuity"] == result["level"]
    assert stored["patients"][0]["news2"] == result["news2"]["total"]
    assert [(e.patient_id, e.level) for e in seen] == [(patient_id, result["level"])]


async def test_stable_patient_is_less_urgent_than_a_sick_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    well = {
        **SICK,
        "age": 30,
        "chief_complaint": "ankle sprain",
        "injury": True,
        "arrival_mode": "walking",
        "consciousness": "A",
        "nrs_pain": 3,
        "sbp": 125,
        "dbp": 80,
        "hr": 78,
        "rr": 16,
        "temp": 36.8,
        "spo2": 99,
    }
    sick = (await client.post("/api/triage", json=SICK, headers=headers)).json()
    ok = (await client.post("/api/triage", json=well, headers=headers)).json()
    assert ok["level"] > sick["level"]
    assert ok["news2"]["band"] == "none"


async def test_out_of_range_inputs_are_refused_per_field(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.CLINICIAN)
    response = await client.post(
        "/api/triage", json={**SICK, "hr": 400, "spo2": 20}, headers=headers
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"hr", "spo2"}


async def test_review_mode_flags_a_likely_under_triage(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.CLINICIAN)
    response = await client.post(
        "/api/triage", json={**SICK, "mode": "review", "nurse_level": 5}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["possible_mistriage"] == "under-triage"


async def test_triage_needs_permission_and_a_patient_of_the_incident(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    auditor = await auth_headers(app, client, Role.AUDITOR)
    assert (await client.post("/api/triage", json=SICK, headers=auditor)).status_code == 403
    headers = await auth_headers(app, client, Role.DISPATCHER)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=headers)).json()
    response = await client.post(
        "/api/triage",
        json={**SICK, "incident_id": incident["id"], "patient_id": "not-a-patient"},
        headers=headers,
    )
    assert response.status_code == 422


async def test_a_child_is_triaged_on_the_paediatric_pathway_and_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.PARAMEDIC)
    body = incident_body(patients=[{"age_years": 2, "sex": "female"}])
    incident = (await client.post("/api/incidents", json=body, headers=headers)).json()
    patient_id = incident["patients"][0]["id"]
    child = {
        "age": 2,
        "sex": "female",
        "chief_complaint": "wheeze, working hard to breathe",
        "hr": 165,
        "rr": 48,
        "spo2": 91,
        "temp": 38.4,
        "on_oxygen": True,
        "respiratory_effort": "moderate",
        "capillary_refill_seconds": 2,
        "incident_id": incident["id"],
        "patient_id": patient_id,
    }
    response = await client.post("/api/triage", json=child, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["pathway"] == "paediatric"
    assert result["scale"].startswith("ESI v4")
    assert result["news2"] is None
    assert result["pews"]["total"] >= 8
    assert result["pews"]["band"] == "high"
    assert result["level"] == 2
    assert result["reasons"]
    assert result["reference_ranges"]["age_group"] == "1-4 years"
    stored = (await client.get(f"/api/incidents/{incident['id']}", headers=headers)).json()
    assert stored["patients"][0]["acuity"] == 2
    assert stored["patients"][0]["news2"] is None


async def test_a_childs_bad_paediatric_field_is_named(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.PARAMEDIC)
    response = await client.post(
        "/api/triage",
        json={"age": 4, "sex": "male", "chief_complaint": "fall", "expected_resources": 7},
        headers=headers,
    )
    assert response.status_code == 422
    assert "expected_resources" in response.text
