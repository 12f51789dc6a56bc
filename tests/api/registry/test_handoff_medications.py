"""#17 item 3 for handoffs: a medication the crew gave is checked against the allergies the crew
wrote in the handoff and those on the linked person's record (same substance or drug class),
for whoever may open the handoff; SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import PASSWORD, auth_headers, incident_body, login
from tests.handoff_builders import atmist, handoff_body
from tests.registry_builders import person_body

HOSPITAL = "hospital-a"


async def _handoff(
    client: httpx.AsyncClient,
    crew: dict[str, str],
    incident_id: str,
    patient_id: str,
    **content: Any,
) -> str:
    body = handoff_body(incident_id, HOSPITAL, patient_id=patient_id, content=atmist(**content))
    created = await client.post("/api/handoffs", json=body, headers=crew)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _crew_of(app: FastAPI, client: httpx.AsyncClient, call_sign: str) -> dict[str, str]:
    """A crew member's account on a new unit `call_sign`, logged in."""
    admin = await auth_headers(app, client, Role.ADMIN)
    station = {"station_lat": 60.17, "station_lon": 24.94}
    unit = await client.post(
        "/api/units", json={"call_sign": call_sign, "unit_type": "ALS", **station}, headers=admin
    )
    assert unit.status_code == 201, unit.text
    name = f"crew-{call_sign.lower()}"
    body = {"username": name, "password": PASSWORD, "role": "crew", "unit_id": unit.json()["id"]}
    assert (await client.post("/api/users", json=body, headers=admin)).status_code == 201
    return {"Authorization": f"Bearer {(await login(client, name))['access_token']}"}


async def test_medications_are_checked_against_written_and_recorded_allergies(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str], paramedic: dict[str, str]
) -> None:
    incident = (
        await client.post(
            "/api/incidents", json=incident_body(patients=[{"age_years": 70}]), headers=paramedic
        )
    ).json()
    patient_id = incident["patients"][0]["id"]
    person = (await client.post("/api/persons", json=person_body(), headers=clinician)).json()
    pid = person["person"]["id"]
    recorded = await client.post(
        f"/api/persons/{pid}/entries",
        json={"kind": "allergy", "substance": "Morphine", "severity": "severe"},
        headers=clinician,
    )
    assert recorded.status_code == 201, recorded.text
    linked = await client.post(
        f"/api/persons/{pid}/links",
        json={"patient_id": patient_id, "incident_id": incident["id"]},
        headers=paramedic,
    )
    assert linked.status_code == 201, linked.text
    hid = await _handoff(
        client,
        paramedic,
        incident["id"],
        patient_id,
        allergies=["Penicillin (rash)"],
        treatment=[
            {"kind": "medication", "name": "Amoxicillin", "dose_value": 1, "dose_unit": "g"},
            {"kind": "medication", "name": "morphine IV", "dose_value": 5, "dose_unit": "mg"},
            {"kind": "medication", "name": "paracetamol", "dose_value": 1, "dose_unit": "g"},
            {"kind": "procedure", "name": "penicillin skin test"},
        ],
    )
    # The crew, while drafting, sees both conflicts.
    draft = await client.get(f"/api/persons/handoff-checks/{hid}", headers=paramedic)
    assert draft.status_code == 200, draft.text
    check = draft.json()
    assert check["person_id"] == pid
    assert check["record_checked"] is True
    got = {(c["medication"], c["allergy"], c["source"], c["match"]) for c in check["conflicts"]}
    assert got == {
        ("Amoxicillin", "Penicillin (rash)", "handoff", "class"),
        ("morphine IV", "Morphine", "record", "substance"),
    }
    by_source = {c["source"]: c for c in check["conflicts"]}
    assert by_source["handoff"]["drug_class"] == "penicillins"
    assert by_source["record"]["severity"] == "severe"
    assert by_source["record"]["allergy_id"] == recorded.json()["entry"]["id"]
    assert "ATC" in check["class_table_source"]
    # A crew account (no registry access) sees the record's conflict for the draft its unit
    # writes; a crew of another unit reaches neither the draft nor its check.
    crew = await _crew_of(app, client, "MEDIC-12")
    as_crew = (await client.get(f"/api/persons/handoff-checks/{hid}", headers=crew)).json()
    assert as_crew["record_checked"] is True
    assert len(as_crew["conflicts"]) == 2
    assert (await client.get(f"/api/persons/{pid}/chart", headers=crew)).status_code == 403
    other_crew = await _crew_of(app, client, "MEDIC-13")
    refused = await client.get(f"/api/persons/handoff-checks/{hid}", headers=other_crew)
    assert refused.status_code == 404
    # Sent: the receiving hospital's clinician sees the same; another hospital does not.
    sent = await client.post(f"/api/handoffs/{hid}/send", headers=paramedic)
    assert sent.status_code == 200, sent.text
    ed = (await client.get(f"/api/persons/handoff-checks/{hid}", headers=clinician)).json()
    assert len(ed["conflicts"]) == 2
    elsewhere = await auth_headers(app, client, Role.CLINICIAN, hospital_id="hospital-b")
    assert (
        await client.get(f"/api/persons/handoff-checks/{hid}", headers=elsewhere)
    ).status_code == 404
    # Dispatch may see the handoff's routing, not its content: refused, nothing leaks.
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    refused = await client.get(f"/api/persons/handoff-checks/{hid}", headers=dispatcher)
    assert refused.status_code == 403
    assert "Penicillin" not in refused.text


async def test_no_conflict_without_a_matching_allergy_and_none_recorded_without_a_link(
    client: httpx.AsyncClient, paramedic: dict[str, str]
) -> None:
    incident = (
        await client.post(
            "/api/incidents", json=incident_body(patients=[{"age_years": 40}]), headers=paramedic
        )
    ).json()
    hid = await _handoff(
        client,
        paramedic,
        incident["id"],
        incident["patients"][0]["id"],
        allergies=[],
        treatment=[{"kind": "medication", "name": "amoxicillin"}],
    )
    check = (await client.get(f"/api/persons/handoff-checks/{hid}", headers=paramedic)).json()
    assert check == {
        "handoff_id": hid,
        "person_id": None,
        "record_checked": False,
        "conflicts": [],
        "class_table_source": check["class_table_source"],
    }
    missing = await client.get("/api/persons/handoff-checks/no-such", headers=paramedic)
    assert missing.status_code == 404
