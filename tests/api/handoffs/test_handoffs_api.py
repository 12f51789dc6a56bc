"""Handoffs over HTTP on SQLite and PostgreSQL: lifecycle, access, redirect, updates, FHIR."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.core.ids import new_id
from emsync.core.runtime import Runtime
from emsync.handoffs import fhir_rules, sealing
from emsync.handoffs.models import Handoff, HospitalKey
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import COMPLAINT, PDF, PNG, atmist, handoff_body, sent_handoff

HOSPITAL = "hosp-north"
OTHER = "hosp-south"


async def _incident(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    body = incident_body(patients=[{"name": "Eero", "age_years": 64, "sex": "male"}])
    response = await client.post("/api/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    incident: dict[str, Any] = response.json()
    return incident


async def test_handoff_walks_its_lifecycle_and_each_side_sees_what_it_may(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    elsewhere = await auth_headers(app, client, Role.CLINICIAN, hospital_id=OTHER)
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    incident = await _incident(client, crew)
    handoff = await sent_handoff(client, crew, incident["id"], HOSPITAL)
    hid = handoff["id"]
    assert handoff["status"] == "sent"
    # Sent: the crew and dispatch see routing metadata only; the hospital opens it.
    assert handoff["content"] is None
    as_dispatch = (await client.get(f"/api/handoffs/{hid}", headers=dispatcher)).json()
    assert as_dispatch["content"] is None
    assert as_dispatch["status"] == "sent"
    opened = (await client.get(f"/api/handoffs/{hid}", headers=nurse)).json()
    assert opened["content"]["mechanism"] == COMPLAINT
    assert opened["trends"]["hr"] == "rising"
    assert opened["trends"]["sbp"] == "falling"
    assert (await client.get(f"/api/handoffs/{hid}", headers=elsewhere)).status_code == 404
    listing = (await client.get("/api/handoffs", headers=elsewhere)).json()
    assert listing["total"] == 0
    for status in ("delivered", "acknowledged", "arrived", "handed_over"):
        moved = await client.post(
            f"/api/handoffs/{hid}/receipt", json={"status": status}, headers=nurse
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    log = (await client.get(f"/api/handoffs/{hid}/updates", headers=nurse)).json()
    assert [(u["status_from"], u["status_to"]) for u in log] == [
        ("draft", "sent"),
        ("sent", "delivered"),
        ("delivered", "acknowledged"),
        ("acknowledged", "arrived"),
        ("arrived", "handed_over"),
    ]
    assert [u["seq"] for u in log] == [1, 2, 3, 4, 5]


async def test_sending_an_incomplete_draft_lists_every_missing_atmist_field(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    incident = await _incident(client, crew)
    body = handoff_body(incident["id"], HOSPITAL, eta=None, content={"mechanism": "fall"})
    draft = (await client.post("/api/handoffs", json=body, headers=crew)).json()
    assert {p["field"] for p in draft["problems"]} >= {"content.patient.age_years", "eta"}
    response = await client.post(f"/api/handoffs/{draft['id']}/send", headers=crew)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "content.patient.age_years",
        "content.time_of_onset",
        "content.injuries",
        "content.signs",
        "content.treatment",
        "eta",
    }
    after = (await client.get(f"/api/handoffs/{draft['id']}", headers=crew)).json()
    assert after["status"] == "draft"
    assert after["updates"] == []
    # Field validation at the edge names the field.
    bad = handoff_body(incident["id"], HOSPITAL, content=atmist(signs=[{"ts": "x", "hr": 999}]))
    rejected = await client.post("/api/handoffs", json=bad, headers=crew)
    assert rejected.status_code == 422
    assert any(e["field"].startswith("body.content.signs.0") for e in rejected.json()["errors"])


async def test_invalid_transition_is_a_409_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    incident = await _incident(client, crew)
    handoff = await sent_handoff(client, crew, incident["id"], HOSPITAL)
    hid = handoff["id"]
    response = await client.post(
        f"/api/handoffs/{hid}/receipt", json={"status": "handed_over"}, headers=nurse
    )
    assert response.status_code == 409
    assert "cannot move from 'sent' to 'handed_over'" in response.json()["detail"]
    # The crew cannot acknowledge on the hospital's behalf.
    crew_ack = await client.post(
        f"/api/handoffs/{hid}/status", json={"status": "acknowledged"}, headers=crew
    )
    assert crew_ack.status_code == 403
    feed = (await client.get(f"/api/handoffs/feed?hospital_id={HOSPITAL}", headers=nurse)).json()
    assert [e["kind"] for e in feed["entries"]] == ["handoff"]
    after = (await client.get(f"/api/handoffs/{hid}", headers=nurse)).json()
    assert after["status"] == "sent"
    assert len(after["updates"]) == 1


async def test_updates_are_appended_and_redirect_moves_access_to_the_new_hospital(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    north = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    south = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id=OTHER)
    incident = await _incident(client, crew)
    hid = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
    # Observation times may not lie ahead (issue #14); an ETA may.
    now = datetime.now(UTC).isoformat()
    vitals = {"kind": "vitals", "vitals": {"ts": now, "hr": 130}}
    first = await client.post(f"/api/handoffs/{hid}/updates", json=vitals, headers=crew)
    assert first.status_code == 201, first.text
    eta = {"kind": "eta", "eta": "2030-01-01T10:20:00+00:00"}
    assert (await client.post(f"/api/handoffs/{hid}/updates", json=eta, headers=crew)).is_success
    mixed = {"kind": "note", "eta": "2030-01-01T10:20:00+00:00"}
    assert (
        await client.post(f"/api/handoffs/{hid}/updates", json=mixed, headers=crew)
    ).status_code == 422
    upload = await client.post(
        f"/api/handoffs/{hid}/attachments",
        data={"kind": "ecg"},
        files={"file": ("ecg.pdf", PDF, "application/pdf")},
        headers=crew,
    )
    assert upload.status_code == 201, upload.text
    att = upload.json()
    opened = (await client.get(f"/api/handoffs/{hid}", headers=north)).json()
    assert [u["kind"] for u in opened["updates"]] == ["status", "vitals", "eta", "attachment"]
    assert opened["updates"][1]["data"]["vitals"]["hr"] == 130
    assert opened["eta"].startswith("2030-01-01T10:20")
    got = await client.get(f"/api/handoffs/{hid}/attachments/{att['id']}", headers=north)
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"

    moved = await client.post(
        f"/api/handoffs/{hid}/redirect",
        json={"hospital_id": OTHER, "reason": "cath lab busy"},
        headers=crew,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "redirected"
    assert moved.json()["hospital_id"] == OTHER
    assert (await client.get(f"/api/handoffs/{hid}", headers=north)).status_code == 404
    denied = await client.get(f"/api/handoffs/{hid}/attachments/{att['id']}", headers=north)
    assert denied.status_code == 404
    north_feed = (
        await client.get(f"/api/handoffs/feed?hospital_id={HOSPITAL}", headers=north)
    ).json()
    assert north_feed["entries"][-1]["kind"] == "withdrawn"
    assert all(e["handoff"] is None and e["update"] is None for e in north_feed["entries"])
    now_south = (await client.get(f"/api/handoffs/{hid}", headers=south)).json()
    assert now_south["content"]["mechanism"] == COMPLAINT
    assert now_south["updates"][1]["data"]["vitals"]["hr"] == 130
    again = await client.get(f"/api/handoffs/{hid}/attachments/{att['id']}", headers=south)
    assert again.content == PDF
    south_feed = (await client.get(f"/api/handoffs/feed?hospital_id={OTHER}", headers=south)).json()
    assert [e["kind"] for e in south_feed["entries"]] == ["handoff"]
    assert south_feed["entries"][0]["handoff"]["content"]["mechanism"] == COMPLAINT


async def test_attachments_are_checked_by_their_bytes_and_size(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    incident = await _incident(client, crew)
    created = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], HOSPITAL), headers=crew
    )
    hid = created.json()["id"]
    url = f"/api/handoffs/{hid}/attachments"
    fake = await client.post(
        url,
        data={"kind": "photo"},
        files={"file": ("x.png", b"MZ\x90\x00" * 20, "image/png")},
        headers=crew,
    )
    assert fake.status_code == 422
    assert fake.json()["errors"][0]["field"] == "file"
    lying = await client.post(
        url, data={"kind": "photo"}, files={"file": ("x.jpg", PNG, "image/jpeg")}, headers=crew
    )
    assert lying.status_code == 422
    assert "declared as image/jpeg" in lying.json()["detail"]
    pdf_photo = await client.post(
        url,
        data={"kind": "photo"},
        files={"file": ("x.pdf", PDF, "application/pdf")},
        headers=crew,
    )
    assert pdf_photo.status_code == 422
    # Just over the attachment limit: read up to it and refused by the route...
    big = PNG + b"\x00" * (10 * 1024 * 1024)
    too_big = await client.post(
        url, data={"kind": "photo"}, files={"file": ("x.png", big, "image/png")}, headers=crew
    )
    assert too_big.status_code == 422
    assert "limit" in too_big.json()["detail"]
    # ...far over it: refused by the request gate before the body is read (issue #14).
    huge = PNG + b"\x00" * (11 * 1024 * 1024)
    refused = await client.post(
        url, data={"kind": "photo"}, files={"file": ("x.png", huge, "image/png")}, headers=crew
    )
    assert refused.status_code == 413
    ok = await client.post(
        url, data={"kind": "photo"}, files={"file": ("wound.png", PNG, "image/png")}, headers=crew
    )
    assert ok.status_code == 201
    draft = (await client.get(f"/api/handoffs/{hid}", headers=crew)).json()
    assert [a["name"] for a in draft["attachments"]] == ["wound.png"]


async def test_fhir_export_validates_as_r4_with_the_vital_signs_rules(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    incident = await _incident(client, crew)
    hid = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
    gtn = {"kind": "medication", "name": "GTN", "dose_value": 400, "dose_unit": "ug"}
    treatment = {"kind": "treatment", "treatment": gtn}
    assert (
        await client.post(f"/api/handoffs/{hid}/updates", json=treatment, headers=crew)
    ).is_success
    assert (await client.get(f"/api/handoffs/{hid}/fhir", headers=crew)).status_code == 403
    response = await client.get(f"/api/handoffs/{hid}/fhir", headers=nurse)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert fhir_rules.problems(bundle) == []
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert {"Patient", "Encounter", "Observation", "Condition", "Procedure",
            "MedicationStatement", "Composition"} <= set(kinds)  # fmt: skip
    # Aspirin and GTN carry no time: statements that they were given, not administrations at
    # an invented time.
    assert kinds.count("MedicationStatement") == 2
    assert "MedicationAdministration" not in kinds
    loinc = {
        c["code"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        for c in e["resource"]["code"].get("coding", ())
    }
    assert {"8867-4", "2708-6", "59408-5", "9279-1", "85354-9", "8310-5", "67775-7"} <= loinc


async def test_key_rotation_keeps_older_handoffs_open_and_is_scoped(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    coordinator = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id=HOSPITAL)
    foreign = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id=OTHER)
    incident = await _incident(client, crew)
    old = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
    url = f"/api/handoffs/hospital-keys/{HOSPITAL}"
    assert (await client.post(url, headers=foreign)).status_code == 403
    assert (await client.post(url, headers=nurse)).status_code == 403
    rotated = await client.post(url, headers=coordinator)
    assert rotated.status_code == 201
    assert rotated.json()["version"] == 2
    new = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
    keys = (await client.get(url, headers=crew)).json()
    assert [(k["version"], k["active"]) for k in keys] == [(2, True), (1, False)]
    old_read = (await client.get(f"/api/handoffs/{old}", headers=nurse)).json()
    new_read = (await client.get(f"/api/handoffs/{new}", headers=nurse)).json()
    assert (old_read["key_version"], new_read["key_version"]) == (1, 2)
    assert old_read["content"]["mechanism"] == new_read["content"]["mechanism"] == COMPLAINT


async def test_draft_bridge_pulls_incident_and_patient_and_one_action_sends(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    incident = await _incident(client, crew)
    body = {"incident_id": incident["id"], "unit_id": "MEDIC-7", "hospital_id": HOSPITAL}
    draft = await client.post("/api/handoffs/draft", json=body, headers=crew)
    assert draft.status_code == 201, draft.text
    d = draft.json()
    assert d["status"] == "draft"
    assert d["patient_id"] == incident["patients"][0]["id"]
    assert d["content"]["mechanism"] == incident["chief_complaint"]
    assert d["content"]["patient"]["age_years"] == 64
    again = (await client.post("/api/handoffs/draft", json=body, headers=crew)).json()
    assert again["id"] == d["id"]  # refreshed, not duplicated
    edit = {"eta": "2030-01-01T10:20:00+00:00", "acuity": 2, "content": atmist()}
    assert (await client.patch(f"/api/handoffs/{d['id']}", json=edit, headers=crew)).is_success
    sent = await client.post(f"/api/handoffs/{d['id']}/send", headers=crew)
    assert sent.status_code == 200
    assert sent.json()["status"] == "sent"
    late = await client.patch(f"/api/handoffs/{d['id']}", json={"acuity": 1}, headers=crew)
    assert late.status_code == 409


async def test_a_key_rotated_by_another_process_seals_the_next_draft(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """This process remembers each hospital's active key to seal drafts without selecting it;
    a newer key written by another process (here: straight to the database, unseen by this
    process's cache) must still seal the very next draft, with no fan-out and no expiry."""
    runtime: Runtime = app.state.runtime
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    incident = await _incident(client, crew)
    first = await sent_handoff(client, crew, incident["id"], HOSPITAL)  # enrols (version 1)
    assert first["key_version"] == 1
    pair = sealing.generate_key_pair()
    key_id = new_id()
    async with runtime.sessions() as session:
        session.add(
            HospitalKey(
                id=key_id,
                hospital_id=HOSPITAL,
                version=2,
                public_key=pair.public,
                private_key_sealed=runtime.keyring.seal(
                    pair.private, aad=f"handoff_hospital_key:{key_id}".encode()
                ),
                created_by="another process",
                created_at=datetime.now(UTC),
            )
        )
        await session.commit()
    second = await sent_handoff(client, crew, incident["id"], HOSPITAL)
    third = await sent_handoff(client, crew, incident["id"], HOSPITAL)  # the key now remembered
    for handoff in (second, third):
        read = (await client.get(f"/api/handoffs/{handoff['id']}", headers=nurse)).json()
        assert read["key_version"] == 2
        assert read["content"]["mechanism"] == COMPLAINT
    async with runtime.sessions() as session:
        key_ids = (
            await session.scalars(
                select(Handoff.key_id).where(Handoff.id.in_([second["id"], third["id"]]))
            )
        ).all()
    assert key_ids == [key_id, key_id]
