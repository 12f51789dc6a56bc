"""Issue #14 item 8: the five server errors an outside probe found, and the rules that keep
their kind away: integer parameters are bounded, explicit nulls in PATCH bodies are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import atmist, handoff_body
from tests.telemetry_support import make_patient, provision

HUGE = 2**63
HOSPITAL = "HOSP-FHIR"


async def test_huge_sequence_numbers_and_key_ids_are_a_422(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    await provision(client, admin, "mon-huge", patient_id=patient)
    for path in (
        f"/api/handoffs/any-handoff/updates?after={HUGE}",
        f"/api/handoffs/feed?hospital_id=h1&after_seq={HUGE}",
    ):
        response = await client.get(path, headers=admin)
        assert response.status_code == 422, (path, response.text)
    revoke = await client.post(f"/api/telemetry/devices/mon-huge/keys/{HUGE}/revoke", headers=admin)
    assert revoke.status_code == 422
    ack = await client.post(
        "/api/handoffs/feed/ack",
        json={"hospital_id": "h1", "client_id": "c1", "seq": HUGE},
        headers=admin,
    )
    assert ack.status_code == 422


async def test_null_for_a_field_an_incident_cannot_lack_is_a_422(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=admin)).json()
    for name in ("chief_complaint", "priority", "mci"):
        response = await client.patch(
            f"/api/incidents/{incident['id']}", json={name: None}, headers=admin
        )
        assert response.status_code == 422, (name, response.text)
        assert name in response.json()["detail"]
    # Nullable ones may be cleared.
    cleared = await client.patch(
        f"/api/incidents/{incident['id']}", json={"caller_name": None}, headers=admin
    )
    assert cleared.status_code == 200
    assert cleared.json()["caller_name"] is None


async def test_null_in_every_patch_field_is_never_a_server_error(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=admin)).json()
    hospital = (
        await client.post(
            "/api/hospitals",
            json={"name": "Null General", "lat": 60.17, "lon": 24.94},
            headers=admin,
        )
    ).json()
    unit = (
        await client.post(
            "/api/units",
            json={"call_sign": "NULL-1", "unit_type": "ALS", "station_lat": 60.17,
                  "station_lon": 24.94},
            headers=admin,
        )
    ).json()  # fmt: skip
    schema: dict[str, Any] = app.openapi()
    targets = {
        "/api/incidents/{incident_id}": f"/api/incidents/{incident['id']}",
        "/api/hospitals/{hospital_id}": f"/api/hospitals/{hospital['id']}",
        "/api/units/{unit_id}": f"/api/units/{unit['id']}",
    }
    errors = []
    for template, path in targets.items():
        body_ref = schema["paths"][template]["patch"]["requestBody"]["content"]["application/json"]
        name = body_ref["schema"]["$ref"].rsplit("/", 1)[-1]
        for field in schema["components"]["schemas"][name]["properties"]:
            response = await client.patch(path, json={field: None}, headers=admin)
            if response.status_code >= 500:
                errors.append(f"PATCH {template} {{{field}: null}}: {response.status_code}")
    assert errors == []


def test_every_integer_parameter_is_bounded(app: FastAPI) -> None:
    schema: dict[str, Any] = app.openapi()
    unbounded: list[str] = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                spec = parameter.get("schema", {})
                options = spec.get("anyOf", [spec])
                unbounded.extend(
                    f"{method.upper()} {path} {parameter['name']}"
                    for option in options
                    if option.get("type") == "integer"
                    and ("maximum" not in option or "minimum" not in option)
                )
    assert unbounded == []


async def test_a_handoff_with_a_far_offset_exports_to_fhir(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """RFC 3339 allows -22:21; FHIR's dateTime does not. The export states times in UTC."""
    admin = await auth_headers(app, client, Role.ADMIN)
    await client.post(f"/api/handoffs/hospital-keys/{HOSPITAL}", headers=admin)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=admin)).json()
    far = timezone(-timedelta(hours=22, minutes=21))
    at = (datetime.now(UTC) - timedelta(minutes=5)).astimezone(far).isoformat()
    content = atmist(time_of_onset=at, signs=[{"ts": at, "hr": 90, "sbp": 120, "dbp": 80}])
    body = handoff_body(incident["id"], HOSPITAL, content=content)
    created = await client.post("/api/handoffs", json=body, headers=admin)
    assert created.status_code == 201, created.text
    sent = await client.post(f"/api/handoffs/{created.json()['id']}/send", headers=admin)
    assert sent.status_code == 200, sent.text
    coordinator = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id=HOSPITAL)
    response = await client.get(f"/api/handoffs/{created.json()['id']}/fhir", headers=coordinator)
    assert response.status_code == 200, response.text
    assert "-22:21" not in response.text
