"""The eight agents against the real app on SQLite and PostgreSQL: an arriving stab-wound
patient is matched, bedded, reported, checked for allergy conflicts, estimated, announced and
booked; every agent run twice with the same key makes each effect once; parallel claims on the
last bed and the last slot give it to exactly one."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text

from emsync.intake.agents import AgentDeps
from emsync.intake.records.models import Admission, BedAssignment, Booking, LegalCase, StepEffect
from emsync.notifications.models import Notification
from tests.builders import incident_body
from tests.handoff_builders import atmist, handoff_body
from tests.integration.intake.conftest import arrival, make_ed, run_workflow


async def counts(deps: AgentDeps) -> dict[str, int]:
    async with deps.sessions() as session:
        out = {}
        for name, model in (
            ("admissions", Admission),
            ("beds", BedAssignment),
            ("cases", LegalCase),
            ("bookings", Booking),
            ("notifications", Notification),
            ("effects", StepEffect),
        ):
            out[name] = await session.scalar(select(func.count()).select_from(model)) or 0
        out["persons"] = await session.scalar(text("SELECT count(*) FROM registry_persons")) or 0
        return out


async def test_a_stab_wound_arrival_goes_through_every_agent(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], deps: AgentDeps
) -> None:
    ed = await make_ed(app, client, admin)
    out = await run_workflow(deps, arrival(ed))

    assert out["triage"].outcome == "done"
    assert out["triage"].output["level"] in (1, 2, 3)
    admission = out["admission"].output
    assert admission["match_decision"] == "exact"
    assert admission["person_id"] == ed.person_id
    assert admission["bed"]["label"] in ("R1", "M1")
    hospital = (await client.get("/api/hospitals", headers=admin)).json()
    assert [h["ed_beds_available"] for h in hospital if h["id"] == ed.hospital_id] == [2]

    legal = out["legal"].output
    assert legal["rules"] == ["GB-ENG-stab-wound"]
    assert legal["police_task"] == "to_do"
    case = (await client.get(f"/api/intake/legal-cases/{legal['case_id']}", headers=admin)).json()
    assert case["person_id"] == ed.person_id
    assert "kitchen knife" in case["circumstances"]

    records = out["medical_records"]
    assert records.outcome == "needs_review"
    [conflict] = records.output["conflicts"]
    assert (conflict["medication"], conflict["allergy"], conflict["match"]) == (
        "amoxicillin",
        "Penicillin",
        "class",
    )

    assert out["billing"].outcome == "done"
    assert out["billing"].output["payer"] == "public"
    family = out["communication"].output["family"]
    assert [(m["channel"], m["language"], m["status"]) for m in family] == [("sms", "fi", "queued")]
    booking = out["scheduling"].output
    assert booking["specialty"] == "surgery"
    assert booking["clinician"] == "Dr Ada Surgeon"
    ics = await client.get(booking["ics"], headers=admin)
    assert ics.status_code == 200
    assert b"BEGIN:VEVENT" in ics.content
    for name, step in out.items():
        assert step.decisions, f"{name} explains nothing"


async def test_every_agent_run_twice_with_the_same_key_makes_each_effect_once(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], deps: AgentDeps
) -> None:
    ed = await make_ed(app, client, admin)
    sid = uuid4()
    first = await run_workflow(deps, arrival(ed), session_id=sid)
    after_first = await counts(deps)
    again = await run_workflow(deps, arrival(ed), session_id=sid)
    assert await counts(deps) == after_first
    assert after_first["cases"] == after_first["bookings"] == after_first["admissions"] == 1
    assert after_first["notifications"] == 1  # the son's SMS; no one on call
    for name in ("admission", "legal", "scheduling"):
        key = {"admission": "admission_id", "legal": "case_id", "scheduling": "booking_id"}[name]
        assert again[name].output[key] == first[name].output[key]
        assert again[name].output["repeated"] is True


async def test_parallel_bookings_of_the_last_slot_book_exactly_one(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], deps: AgentDeps
) -> None:
    ed = await make_ed(app, client, admin, slots=1)
    results = await asyncio.gather(
        *(run_workflow(deps, arrival(ed), order=("scheduling",)) for _ in range(6))
    )
    booked = [r["scheduling"].output["booking_id"] for r in results]
    assert len([b for b in booked if b]) == 1
    assert sum(r["scheduling"].outcome == "needs_review" for r in results) == 5
    async with deps.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 1


async def test_parallel_admissions_for_the_last_bed_give_it_to_one(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], deps: AgentDeps
) -> None:
    ed = await make_ed(app, client, admin, slots=0, beds=(("M1", "majors", False),))
    payload = arrival(ed, person={"sex": "male", "estimated_age_years": 40})  # unknown patients
    results = await asyncio.gather(
        *(run_workflow(deps, payload, order=("admission",)) for _ in range(5))
    )
    beds = [r["admission"].output["bed"] for r in results]
    assert len([b for b in beds if b]) == 1
    assert sum(r["admission"].outcome == "needs_review" for r in results) == 4
    board = (
        await client.get(f"/api/intake/beds?hospital_id={ed.hospital_id}", headers=admin)
    ).json()
    assert board["available"] == 0
    assert board["beds"][0]["occupant"]["person_id"] is not None


async def test_an_ambulance_arrival_is_read_from_its_handoff(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], deps: AgentDeps
) -> None:
    """The session carries only the handoff's ids: the agents read the rest from it, and the
    person the crew linked the patient to is the one admitted."""
    ed = await make_ed(app, client, admin)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=admin)).json()
    patient = (
        await client.post(
            f"/api/incidents/{incident['id']}/patients",
            json={"age_years": 65, "sex": "female"},
            headers=admin,
        )
    ).json()
    link = await client.post(
        f"/api/persons/{ed.person_id}/links",
        json={"patient_id": patient["id"], "incident_id": incident["id"]},
        headers=admin,
    )
    assert link.status_code == 201, link.text
    content = atmist(
        patient={"name": "Aino Virtanen", "age_years": 65, "sex": "female"},
        mechanism="stabbed in the left flank during a robbery",
        injuries=["stab wound left flank"],
        treatment=[{"kind": "medication", "name": "amoxicillin", "dose_value": 1, "dose_unit": "g",
                    "route": "iv"}],
    )  # fmt: skip
    body = handoff_body(incident["id"], ed.hospital_id, patient_id=patient["id"], content=content)
    created = await client.post("/api/handoffs", json=body, headers=admin)
    assert created.status_code == 201, created.text
    sent = await client.post(f"/api/handoffs/{created.json()['id']}/send", headers=admin)
    assert sent.status_code == 200, sent.text
    payload = {"handoff_id": created.json()["id"], "incident_id": incident["id"],
               "arrival": "ambulance", "jurisdiction": "GB-ENG"}  # fmt: skip
    out = await run_workflow(deps, payload)
    assert out["triage"].output["level"] is not None, out["triage"]
    assert out["triage"].decisions[0].inputs["chief_complaint"].startswith("stabbed")
    assert out["admission"].output["match_decision"] == "linked"
    assert out["admission"].output["person_id"] == ed.person_id
    assert out["legal"].output["categories"] == ["stab_wound"]
    [conflict] = out["medical_records"].output["conflicts"]
    assert conflict["medication"] == "amoxicillin"
    family = out["communication"].output["family"]
    assert [m["status"] for m in family] == ["queued"]  # the son, from the registry record
