"""Incidents end to end over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.schemas import Page
from emsync.incidents.schemas import IncidentSummary
from tests.builders import auth_headers, incident_body


async def test_incident_walks_its_whole_lifecycle(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    created = await client.post("/api/incidents", json=incident_body(), headers=headers)
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["status"] == "new"
    assert incident["callback_number"] == "+358 40 123 4567"
    url = f"/api/incidents/{incident['id']}"
    moved = await client.post(f"{url}/status", json={"status": "triaged"}, headers=headers)
    assert moved.status_code == 200, moved.text
    # Only an assignment dispatches: the incident is never "dispatched" without a unit.
    refused = await client.post(f"{url}/status", json={"status": "dispatched"}, headers=headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "assigning a unit" in refused.json()["detail"]
    assert (await client.get(url, headers=headers)).json()["status"] == "triaged"
    unit = await client.post(
        "/api/units",
        json={
            "call_sign": "HKI-101",
            "unit_type": "ALS",
            "station_lat": 60.17,
            "station_lon": 24.94,
        },
        headers=headers,
    )
    assert unit.status_code == 201, unit.text
    assigned = await client.post(
        f"/api/dispatch/incidents/{incident['id']}/assign",
        json={"unit_id": unit.json()["id"]},
        headers=headers,
    )
    assert assigned.status_code == 201, assigned.text
    for status in ("on_scene", "transporting", "at_hospital", "closed"):
        moved = await client.post(
            f"{url}/status", json={"status": status, "reason": "walk"}, headers=headers
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    timeline = await client.get(f"{url}/timeline", headers=headers)
    kinds = [e["kind"] for e in timeline.json()]
    assert kinds == ["created"] + ["status_changed"] * 6
    assert timeline.json()[-1]["data"]["reason"] == "walk"


async def test_a_cancellation_needs_a_reason_and_keeps_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=headers)).json()
    url = f"/api/incidents/{incident['id']}"
    bare = await client.post(f"{url}/status", json={"status": "cancelled"}, headers=headers)
    assert bare.status_code == 422
    assert "reason" in bare.json()["detail"]
    assert (await client.get(url, headers=headers)).json()["status"] == "new"
    done = await client.post(
        f"{url}/status",
        json={"status": "cancelled", "reason": "duplicate call"},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    timeline = (await client.get(f"{url}/timeline", headers=headers)).json()
    assert timeline[-1]["data"] == {"old": "new", "new": "cancelled", "reason": "duplicate call"}


async def test_findings_are_stored_sealed_and_read_back(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.PARAMEDIC)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=headers)).json()
    assert incident["findings"] == {
        "conditions": None,
        "mechanism": None,
        "befast": [],
        "ecg": None,
        "gcs_motor": None,
    }
    findings = {
        "conditions": ["stroke"],
        "mechanism": "found on the floor",
        "befast": ["face", "arm"],
        "ecg": "normal",
        "gcs_motor": 6,
    }
    url = f"/api/incidents/{incident['id']}"
    stored = await client.put(f"{url}/findings", json=findings, headers=headers)
    assert stored.status_code == 200, stored.text
    assert (await client.get(url, headers=headers)).json()["findings"] == findings
    bad = await client.put(
        f"{url}/findings", json={**findings, "befast": ["face", "face"]}, headers=headers
    )
    assert bad.status_code == 422
    assert (await client.get(url, headers=headers)).json()["findings"] == findings
    timeline = (await client.get(f"{url}/timeline", headers=headers)).json()
    assert timeline[-1]["kind"] == "findings_changed"
    assert "found on the floor" not in str(timeline)  # free text stays sealed


async def test_invalid_transition_is_a_409_problem_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=headers)).json()
    response = await client.post(
        f"/api/incidents/{incident['id']}/status", json={"status": "at_hospital"}, headers=headers
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "cannot move from 'new' to 'at_hospital'" in problem["detail"]
    after = await client.get(f"/api/incidents/{incident['id']}", headers=headers)
    assert after.json()["status"] == "new"
    timeline = await client.get(f"/api/incidents/{incident['id']}/timeline", headers=headers)
    assert len(timeline.json()) == 1


async def test_validation_error_names_the_field(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    response = await client.post("/api/incidents", json=incident_body(lat=123.0), headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    assert any(e["field"] == "body.lat" for e in body["errors"])
    assert "body.lat" in body["detail"]


async def test_the_list_body_is_what_its_response_model_would_write(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The list writes its rows out without pydantic (TrustedJSONResponse): the body must be a
    valid Page[IncidentSummary] and byte for byte what pydantic would have written of it, field
    order, "Z" datetimes, nulls, booleans, enums and non-ASCII text included."""
    headers = await auth_headers(app, client, Role.DISPATCHER)
    bodies = [
        incident_body(chief_complaint="hengenahdistus, äkillinen / 呼吸困難", mci=True),
        incident_body(address=None, patients=[{"label": "A"}, {"label": "B"}]),
        incident_body(lat=None, lon=None, priority=5),
    ]
    for body in bodies:
        created = await client.post("/api/incidents", json=body, headers=headers)
        assert created.status_code == 201, created.text
    response = await client.get("/api/incidents?limit=50", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    page = Page[IncidentSummary].model_validate_json(response.content)
    assert page.model_dump_json().encode() == response.content
    assert sorted(i.patient_count for i in page.items) == [0, 0, 2]
    assert [i.mci for i in page.items].count(True) == 1


async def test_list_filters_searches_and_paginates(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    for n in range(5):
        body = incident_body(chief_complaint=f"fall from ladder {n}", priority=3)
        assert (await client.post("/api/incidents", json=body, headers=headers)).status_code == 201
    await client.post(
        "/api/incidents", json=incident_body(chief_complaint="stroke symptoms"), headers=headers
    )
    page = (await client.get("/api/incidents?limit=2&offset=0", headers=headers)).json()
    assert page["total"] == 6
    assert len(page["items"]) == 2
    found = (await client.get("/api/incidents?q=LADDER", headers=headers)).json()
    assert found["total"] == 5
    # The total counts the filter's matches beyond the page, not the page's rows.
    paged = (await client.get("/api/incidents?q=ladder&limit=2&offset=2", headers=headers)).json()
    assert (paged["total"], len(paged["items"])) == (5, 2)
    past = (await client.get("/api/incidents?q=ladder&offset=10", headers=headers)).json()
    assert (past["total"], past["items"]) == (5, [])
    by_priority = (await client.get("/api/incidents?priority=2", headers=headers)).json()
    assert [i["chief_complaint"] for i in by_priority["items"]] == ["stroke symptoms"]
    none_closed = (await client.get("/api/incidents?status=closed", headers=headers)).json()
    assert none_closed["total"] == 0
    # '%' in a search is a literal character, not a wildcard.
    wildcard = (await client.get("/api/incidents?q=%25", headers=headers)).json()
    assert wildcard["total"] == 0


async def test_patients_on_a_mass_casualty_incident(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.PARAMEDIC)
    body = incident_body(mci=True, patients=[{"age_years": 34}, {"age_years": 7, "sex": "female"}])
    incident = (await client.post("/api/incidents", json=body, headers=headers)).json()
    assert [p["label"] for p in incident["patients"]] == ["P1", "P2"]
    added = await client.post(
        f"/api/incidents/{incident['id']}/patients", json={"name": "Unknown male"}, headers=headers
    )
    assert added.status_code == 201
    assert added.json()["label"] == "P3"
    full = (await client.get(f"/api/incidents/{incident['id']}", headers=headers)).json()
    assert len(full["patients"]) == 3
    assert full["patients"][2]["name"] == "Unknown male"


async def test_unknown_incident_is_a_404_problem(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    response = await client.get("/api/incidents/nope", headers=headers)
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"


async def test_roles_without_write_permission_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.AUDITOR)
    response = await client.post("/api/incidents", json=incident_body(), headers=headers)
    assert response.status_code == 403
    assert "incidents:write" in response.json()["detail"]
    anonymous = await client.get("/api/incidents")
    assert anonymous.status_code == 401


async def test_an_address_alone_is_enough_and_optional_fields_may_be_left_out(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    minimal = {
        "chief_complaint": "unconscious person",
        "priority": 1,
        "address": "Aleksanterinkatu 52",
    }
    created = await client.post("/api/incidents", json=minimal, headers=headers)
    assert created.status_code == 201, created.text
    # Placed by the geocoder on the default (Helsinki centre) map, where the address is
    # mapped; the address stays as typed.
    assert created.json()["address"] == "Aleksanterinkatu 52"
    assert created.json()["lat"] == pytest.approx(60.16864, abs=1e-4)
    assert created.json()["lon"] == pytest.approx(24.9426, abs=2e-3)
    assert created.json()["callback_number"] is None
    nowhere = await client.post(
        "/api/incidents", json={"chief_complaint": "fall", "priority": 3}, headers=headers
    )
    assert nowhere.status_code == 422
    assert "location" in nowhere.json()["detail"]


async def test_extreme_or_naive_creation_filters_are_answered_not_crashed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    await client.post("/api/incidents", json=incident_body(), headers=headers)
    # The year-1 and year-9999 bounds with an offset fall outside what UTC can hold.
    everything = await client.get(
        "/api/incidents",
        params={
            "created_after": "0001-01-01T00:00:00+14:00",
            "created_before": "9999-12-31T23:59:59-14:00",
        },
        headers=headers,
    )
    assert everything.status_code == 200, everything.text
    assert everything.json()["total"] >= 1
    nothing = await client.get(
        "/api/incidents", params={"created_after": "9999-12-31T23:59:59-14:00"}, headers=headers
    )
    assert nothing.status_code == 200
    assert nothing.json()["total"] == 0
    naive = await client.get(
        "/api/incidents", params={"created_after": "2026-01-01T00:00:00"}, headers=headers
    )
    assert naive.status_code == 422
    assert naive.headers["content-type"].startswith("application/problem+json")
