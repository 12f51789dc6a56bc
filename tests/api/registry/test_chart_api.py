"""The clinical record: every entry kind and field round-trips to the chart, allergy conflicts
stop a medication, a linked call's vitals, triage and handoff reach the chart, views are
audited; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.models import AuditEntry
from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.registry.events import HandoffLinkDue
from emsync.registry.models import ClinicalEntry
from emsync.telemetry.events import DeviceChanged
from emsync.triage.events import PatientTriaged
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import handoff_body
from tests.registry_builders import person_body

ENTRIES: list[dict[str, Any]] = [
    {
        "kind": "allergy",
        "substance": "Penicillins",
        "code": "91936005",
        "category": "medication",
        "reaction": "anaphylaxis",
        "severity": "severe",
        "status": "active",
        "source": "hospital",
        "note": "documented 2019",
    },
    {
        "kind": "medication",
        "substance": "metoprolol",
        "dose": "50 mg",
        "route": "oral",
        "frequency": "twice daily",
        "status": "active",
        "source": "crew",
    },
    {
        "kind": "problem",
        "condition": "Hypertension",
        "code": "I10",
        "onset": "2015-06-01",
        "status": "active",
        "source": "import",
    },
    {
        "kind": "encounter",
        "encounter_class": "emergency",
        "facility": "Meilahti ED",
        "reason": "chest pain",
        "symptoms": "pressure, sweating",
        "diagnosis": "NSTEMI",
        "treatment": "PCI",
        "occurred_at": "2024-01-02T10:00:00Z",
        "ended_at": "2024-01-02T16:00:00Z",
        "status": "finished",
        "source": "hospital",
    },
    {
        "kind": "observation",
        "code": "8867-4",
        "display": "Heart rate",
        "value": 92.0,
        "unit": "/min",
        "status": "final",
        "source": "monitor",
    },
    {
        "kind": "document",
        "title": "Discharge letter",
        "content_type": "text/plain",
        "text": "Discharged home.",
        "status": "current",
        "source": "hospital",
    },
    {
        "kind": "device_report",
        "device_id": "monitor-7",
        "summary": "12-lead ECG: ST depression V4-V6",
        "status": "final",
        "source": "monitor",
    },
]


async def _person(client: httpx.AsyncClient, headers: dict[str, str], **kw: Any) -> str:
    response = await client.post("/api/persons", json=person_body(**kw), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["person"]["id"])


async def _send_handoff(client: httpx.AsyncClient, crew: dict[str, str], incident_id: str) -> str:
    created = await client.post(
        "/api/handoffs", json=handoff_body(incident_id, "hospital-a"), headers=crew
    )
    assert created.status_code == 201, created.text
    handoff_id = str(created.json()["id"])
    sent = await client.post(f"/api/handoffs/{handoff_id}/send", headers=crew)
    assert sent.status_code == 200, sent.text
    return handoff_id


async def _link(
    client: httpx.AsyncClient, crew: dict[str, str], person_id: str, incident_id: str
) -> None:
    patient = (
        await client.post(
            f"/api/incidents/{incident_id}/patients", json={"age_years": 63}, headers=crew
        )
    ).json()
    link = await client.post(
        f"/api/persons/{person_id}/links",
        json={"patient_id": patient["id"], "incident_id": incident_id},
        headers=crew,
    )
    assert link.status_code == 201, link.text


async def test_every_entry_kind_and_field_reaches_the_chart(
    client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    pid = await _person(client, clinician)
    for entry in ENTRIES:
        response = await client.post(f"/api/persons/{pid}/entries", json=entry, headers=clinician)
        assert response.status_code == 201, (entry["kind"], response.text)
    chart = (await client.get(f"/api/persons/{pid}/chart", headers=clinician)).json()
    sections = {
        "allergy": "allergies",
        "medication": "medications",
        "problem": "problems",
        "encounter": "encounters",
        "observation": "observations",
        "document": "documents",
        "device_report": "device_reports",
    }
    for entry in ENTRIES:
        [stored] = chart[sections[entry["kind"]]]
        for name, value in entry.items():
            if name in ("source", "occurred_at"):
                continue
            got = stored["content"][name]
            if name.endswith("_at"):
                assert got.replace("+00:00", "Z") == value, name
            else:
                assert got == value, (entry["kind"], name)
        assert stored["source"] == entry["source"]
        assert stored["recorded_by"].startswith("user:")
    assert {i["kind"] for i in chart["timeline"]} >= {"encounter", "observation", "document"}


async def test_a_medication_of_an_allergy_class_is_refused_and_nothing_is_stored(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    pid = await _person(client, clinician)
    await client.post(f"/api/persons/{pid}/entries", json=ENTRIES[0], headers=clinician)
    refused = await client.post(
        f"/api/persons/{pid}/entries",
        json={"kind": "medication", "substance": "Amoxicillin", "source": "crew"},
        headers=clinician,
    )
    assert refused.status_code == 409
    [conflict] = refused.json()["conflicts"]
    assert conflict["match"] == "class"
    assert conflict["drug_class"] == "penicillins"
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(ClinicalEntry).where(ClinicalEntry.person_id == pid)
        )
    assert stored == 1
    check = await client.get(
        f"/api/persons/{pid}/medication-check",
        params={"substance": "piperacillin"},
        headers=clinician,
    )
    assert check.json()["conflicts"][0]["allergy_substance"] == "Penicillins"
    given = await client.post(
        f"/api/persons/{pid}/entries",
        json={
            "kind": "medication",
            "substance": "Amoxicillin",
            "override_reason": "tolerated in 2022 under observation",
        },
        headers=clinician,
    )
    assert given.status_code == 201
    assert given.json()["conflicts"][0]["drug_class"] == "penicillins"
    unrelated = await client.post(
        f"/api/persons/{pid}/entries",
        json={"kind": "medication", "substance": "paracetamol"},
        headers=clinician,
    )
    assert unrelated.status_code == 201
    assert unrelated.json()["conflicts"] == []


async def test_a_linked_call_brings_its_vitals_triage_and_handoff_to_the_chart(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str], paramedic: dict[str, str]
) -> None:
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    incident = (
        await client.post("/api/incidents", json=incident_body(), headers=dispatcher)
    ).json()
    patient = (
        await client.post(
            f"/api/incidents/{incident['id']}/patients",
            json={"age_years": 63, "sex": "female"},
            headers=paramedic,
        )
    ).json()
    pid = await _person(client, paramedic)
    link = await client.post(
        f"/api/persons/{pid}/links",
        json={"patient_id": patient["id"], "incident_id": incident["id"]},
        headers=paramedic,
    )
    assert link.status_code == 201, link.text
    again = await client.post(
        f"/api/persons/{pid}/links",
        json={"patient_id": patient["id"], "incident_id": incident["id"]},
        headers=paramedic,
    )
    assert again.status_code == 201
    wrong = await client.post(
        f"/api/persons/{pid}/links",
        json={"patient_id": patient["id"], "incident_id": "no-such-incident"},
        headers=paramedic,
    )
    assert wrong.status_code == 404
    runtime: Runtime = app.state.runtime
    triaged = PatientTriaged(
        incident_id=incident["id"],
        patient_id=patient["id"],
        level=2,
        news2=5,
        mode="rules",
        model_version="test",
        chief_complaint="chest pain",
    )
    await runtime.bus.publish(
        triaged,
        triaged,  # redelivered: changes nothing
        DeviceChanged(device_id="mon-1", change="bound", patient_id=patient["id"], actor="t"),
    )
    # A handoff sent for the call: its link is found in the send's transaction, made after it.
    handoff_id = await _send_handoff(client, paramedic, incident["id"])
    chart = (await client.get(f"/api/persons/{pid}/chart", headers=clinician)).json()
    assert [v["patient_id"] for v in chart["vitals"]] == [patient["id"]]
    assert sorted(link["kind"] for link in chart["links"]) == [
        "device_binding",
        "handoff",
        "incident_patient",
        "triage",
    ]
    [encounter] = chart["encounters"]
    assert encounter["content"]["encounter_class"] == "ambulance"
    assert encounter["content"]["incident_id"] == incident["id"]
    assert [link["ref_id"] for link in chart["links"] if link["kind"] == "handoff"] == [handoff_id]
    found = await client.get(f"/api/registry/patients/{patient['id']}/person", headers=paramedic)
    assert found.json()["person_id"] == pid


async def test_a_merged_records_entries_show_on_the_survivors_chart_and_views_are_audited(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str]
) -> None:
    a = await _person(client, clinician)
    b = await _person(
        client, clinician, given_name="Eino", birth_date="1944-04-04", identifiers=[], match=False
    )
    await client.post(f"/api/persons/{b}/entries", json=ENTRIES[2], headers=clinician)
    merged = await client.post(
        f"/api/persons/{a}/merges", json={"merged_id": b, "reason": "same"}, headers=clinician
    )
    assert merged.status_code == 201
    chart = (await client.get(f"/api/persons/{a}/chart", headers=clinician)).json()
    assert [p["content"]["condition"] for p in chart["problems"]] == ["Hypertension"]
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        views = list(
            await session.scalars(
                select(AuditEntry.target).where(AuditEntry.action == "registry.chart_viewed")
            )
        )
    assert any(a in target for target in views)


async def test_a_handoff_is_linked_only_where_its_call_has_exactly_one_person(
    app: FastAPI, client: httpx.AsyncClient, clinician: dict[str, str], paramedic: dict[str, str]
) -> None:
    """Read in the send's transaction (HandoffLinkDue only for one person), linked after it,
    once however often the event is delivered; a call with two persons or none links nothing."""
    runtime: Runtime = app.state.runtime
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    calls = [
        (await client.post("/api/incidents", json=incident_body(), headers=dispatcher)).json()["id"]
        for _ in range(3)
    ]
    one, two = (
        await _person(client, paramedic),
        await _person(
            client,
            paramedic,
            given_name="Eino",
            birth_date="1944-04-04",
            identifiers=[],
            match=False,
        ),
    )
    await _link(client, paramedic, one, calls[0])
    await _link(client, paramedic, one, calls[1])
    await _link(client, paramedic, two, calls[1])
    linked, ambiguous, unlinked = [await _send_handoff(client, paramedic, c) for c in calls]
    due = HandoffLinkDue(handoff_id=linked, incident_id=calls[0], person_id=one)
    await runtime.bus.publish(due)  # redelivered: changes nothing
    handoff_links = {
        person: [
            link["ref_id"]
            for link in (
                await client.get(f"/api/persons/{person}/chart", headers=clinician)
            ).json()["links"]
            if link["kind"] == "handoff"
        ]
        for person in (one, two)
    }
    # Neither the call with two persons nor the one with none linked its handoff to anyone.
    assert handoff_links == {one: [linked], two: []}, (ambiguous, unlinked)
