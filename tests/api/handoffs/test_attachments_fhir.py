"""A handoff's photos and ECGs in its FHIR export (issue #23), on SQLite and PostgreSQL: one
DocumentReference each, pointing at the authenticated attachment route, the Bundle valid R4."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fhir.resources.R4B.bundle import Bundle

from emsync.auth.permissions import Role
from emsync.handoffs import fhir_rules
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import PDF, PNG, handoff_body

HOSPITAL = "hosp-north"


async def test_attachments_are_document_references_in_the_fhir_bundle(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    created = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], HOSPITAL), headers=crew
    )
    hid = created.json()["id"]
    url = f"/api/handoffs/{hid}/attachments"
    photo = await client.post(
        url, data={"kind": "photo"}, files={"file": ("wound.png", PNG, "image/png")}, headers=crew
    )
    ecg = await client.post(
        url,
        data={"kind": "ecg"},
        files={"file": ("12lead.pdf", PDF, "application/pdf")},
        headers=crew,
    )
    assert photo.status_code == ecg.status_code == 201
    assert (await client.post(f"/api/handoffs/{hid}/send", headers=crew)).status_code == 200

    response = await client.get(f"/api/handoffs/{hid}/fhir", headers=nurse)
    assert response.status_code == 200, response.text
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert fhir_rules.problems(bundle) == []
    docs = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    by_title = {d["content"][0]["attachment"]["title"]: d for d in docs}
    assert set(by_title) == {"wound.png", "12lead.pdf"}
    ecg_doc = by_title["12lead.pdf"]
    assert ecg_doc["type"]["coding"][0]["code"] == "11524-6"
    attachment = ecg_doc["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    assert attachment["size"] == len(PDF)
    assert attachment["url"] == f"/api/handoffs/{hid}/attachments/{ecg.json()['id']}"
    # The reference is the file the hospital opens with its own credentials.
    opened = await client.get(attachment["url"], headers=nurse)
    assert opened.status_code == 200
    assert opened.content == PDF
    patient = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert {d["subject"]["reference"] for d in docs} == {patient}
