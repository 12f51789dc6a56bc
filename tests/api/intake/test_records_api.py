"""The intake records' routes on SQLite and PostgreSQL: the bed board (moves, assignment,
release, stale versions, other hospitals' staff), legal cases (changes with reasons, custody
chain), clinicians' slots and bookings (parallel bookings of the last slot, .ics), and bad
input answered with problem+json that changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
from fastapi import FastAPI
from icalendar import Calendar

from emsync.auth.permissions import Role
from emsync.intake.agents import AGENTS, AgentDeps, StepInput
from tests.builders import auth_headers


async def _json(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _bed(client: httpx.AsyncClient, h: dict[str, str], hospital: str, label: str) -> Any:
    body = {"hospital_id": hospital, "zone": "majors", "label": label}
    return await _json(await client.post("/api/intake/beds", json=body, headers=h), 201)


async def test_a_bed_goes_round_the_board(app: FastAPI, client: httpx.AsyncClient) -> None:
    h = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id="hosp-a")
    bed = await _bed(client, h, "hosp-a", "M1")
    dup = await client.post(
        "/api/intake/beds",
        json={"hospital_id": "hosp-a", "zone": "majors", "label": "M1"},
        headers=h,
    )
    assert dup.status_code == 409
    key = {"Idempotency-Key": "assign-0001"}
    url = f"/api/intake/beds/{bed['id']}"
    taken = await _json(
        await client.post(f"{url}/assign", json={"acuity": 3}, headers=h | key), 200
    )
    assert taken["status"] == "occupied"
    assert taken["occupant"]["acuity"] == 3
    again = await _json(
        await client.post(f"{url}/assign", json={"acuity": 3}, headers=h | key), 200
    )
    assert again["occupant"]["assignment_id"] == taken["occupant"]["assignment_id"]
    other = await client.post(f"{url}/assign", json={}, headers=h)
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["type"].endswith("no-bed-available")
    released = await _json(await client.post(f"{url}/release", headers=h), 200)
    assert released["status"] == "cleaning"
    stale = await client.patch(url, json={"status": "available", "version": 1}, headers=h)
    assert stale.status_code == 409
    clean = await _json(
        await client.patch(
            url, json={"status": "available", "version": released["version"]}, headers=h
        ),
        200,
    )
    assert clean["status"] == "available"
    into_use = await client.patch(
        url, json={"status": "occupied", "version": clean["version"]}, headers=h
    )
    assert into_use.status_code == 409
    board = await _json(await client.get("/api/intake/beds?hospital_id=hosp-a", headers=h), 200)
    assert board["available_by_zone"] == {"majors": 1}


async def test_staff_of_another_hospital_and_other_roles_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    mine = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id="hosp-a")
    theirs = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id="hosp-b")
    paramedic = await auth_headers(app, client, Role.PARAMEDIC)
    bed = await _bed(client, mine, "hosp-a", "R1")
    url = f"/api/intake/beds/{bed['id']}/assign"
    assert (await client.post(url, json={}, headers=theirs)).status_code == 403
    assert (
        await client.get("/api/intake/beds?hospital_id=hosp-a", headers=theirs)
    ).status_code == 403
    assert (
        await client.get("/api/intake/beds?hospital_id=hosp-a", headers=paramedic)
    ).status_code == 403
    assert (await client.get("/api/intake/beds?hospital_id=hosp-a")).status_code == 401
    board = await _json(await client.get("/api/intake/beds?hospital_id=hosp-a", headers=mine), 200)
    assert board["available"] == 1


async def _legal_case(app: FastAPI) -> str:
    deps = AgentDeps.from_runtime(app.state.runtime)
    sid = uuid4()
    payload = {"chief_complaint": "stab wound to thigh", "age": 30, "jurisdiction": "FI"}
    step = StepInput(sid, "emergency", "legal", payload, {}, StepInput.key_for(sid, "legal"))
    out = await AGENTS["legal"].run(step, deps)
    case_id: str = out.output["case_id"]
    return case_id


async def test_a_legal_case_is_worked_with_reasons_and_a_custody_chain(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    h = await auth_headers(app, client, Role.HOSPITAL_COORDINATOR, hospital_id="hosp-a")
    case_id = await _legal_case(app)
    url = f"/api/intake/legal-cases/{case_id}"
    case = await _json(await client.get(url, headers=h), 200)
    assert case["police_task"] == "awaiting_consent"
    assert case["rules"] == ["FI-stab-wound"]
    no_reason = await client.patch(url, json={"consent": "given"}, headers=h)
    assert no_reason.status_code == 422
    no_ref = await client.patch(url, json={"police_task": "done", "reason": "phoned"}, headers=h)
    assert no_ref.status_code == 422
    assert (await client.get(url, headers=h)).json()["police_task"] == "awaiting_consent"
    done = await _json(
        await client.patch(
            url,
            json={
                "consent": "given",
                "police_task": "done",
                "police_reference": "HEL-1234",
                "reason": "patient consented; phoned the duty officer",
            },
            headers=h,
        ),
        200,
    )
    assert (done["police_task"], done["consent"]) == ("done", "given")
    assert done["history"][-1]["reason"].startswith("patient consented")
    for item in ("shirt", "knife"):
        note = {"item": item, "from_party": "ED nurse", "to_party": "Police officer 42"}
        await _json(await client.post(f"{url}/custody", json=note, headers=h), 201)
    chain = (await client.get(url, headers=h)).json()["custody"]
    assert [(n["sequence"], n["item"]) for n in chain] == [(1, "shirt"), (2, "knife")]
    listed = await _json(await client.get("/api/intake/legal-cases?status=open", headers=h), 200)
    assert [c["id"] for c in listed] == [case_id]


async def _clinic(client: httpx.AsyncClient, h: dict[str, str], app: FastAPI, n: int) -> str:
    doc = await _json(
        await client.post(
            "/api/intake/clinicians", json={"name": "Dr B", "specialty": "cardiology"}, headers=h
        ),
        201,
    )
    start = app.state.runtime.clock().replace(microsecond=0) + timedelta(days=1)
    window = {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30 * n)).isoformat(),
        "slot_minutes": 30,
        "kind": "specialist",
    }
    url = f"/api/intake/clinicians/{doc['id']}/availability"
    slots = await _json(await client.post(url, json=window, headers=h), 201)
    assert len(slots) == n
    overlap = await client.post(url, json=window, headers=h)
    assert overlap.status_code == 409
    backwards = {**window, "ends_at": window["starts_at"]}
    assert (await client.post(url, json=backwards, headers=h)).status_code == 422
    open_ = await _json(await client.get("/api/intake/slots?specialty=cardiology", headers=h), 200)
    assert len(open_) == n  # the refused windows stored nothing
    return str(open_[-1]["id"])


async def test_parallel_bookings_of_the_last_slot_book_exactly_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    h = await auth_headers(app, client, Role.CLINICIAN, hospital_id="hosp-a")
    slot_id = await _clinic(client, h, app, 1)
    body = {"slot_id": slot_id, "reason": "chest pain follow-up"}
    answers = await asyncio.gather(
        *(client.post("/api/intake/bookings", json=body, headers=h) for _ in range(8))
    )
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7
    assert all(r.json()["type"].endswith("slot-taken") for r in answers if r.status_code == 409)
    [won] = [r.json() for r in answers if r.status_code == 201]
    ics = await client.get(f"/api/intake/bookings/{won['id']}/calendar.ics", headers=h)
    assert ics.headers["content-type"].startswith("text/calendar")
    [event] = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["summary"]) == "Cardiology appointment"
    cancelled = await _json(
        await client.post(f"/api/intake/bookings/{won['id']}/cancel", headers=h), 200
    )
    assert cancelled["cancelled_at"] is not None
    rebooked = await client.post("/api/intake/bookings", json=body, headers=h)
    assert rebooked.status_code == 201


async def test_the_same_idempotency_key_books_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    h = await auth_headers(app, client, Role.CLINICIAN, hospital_id="hosp-a")
    slot_id = await _clinic(client, h, app, 2)
    key = h | {"Idempotency-Key": "booking-abcdef"}
    body = {"slot_id": slot_id, "reason": "follow-up"}
    first = await _json(await client.post("/api/intake/bookings", json=body, headers=key), 201)
    second = await _json(await client.post("/api/intake/bookings", json=body, headers=key), 201)
    assert first["id"] == second["id"]
    assert len(await _json(await client.get("/api/intake/bookings", headers=h), 200)) == 1


async def test_the_rule_tables_are_readable_with_their_sources(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    h = await auth_headers(app, client, Role.CLINICIAN, hospital_id="hosp-a")
    rules = await _json(await client.get("/api/intake/legal-cases/rules", headers=h), 200)
    assert set(rules["jurisdictions"]) == {"FI", "GB-ENG", "US-CA"}
    assert "Not legal advice" in rules["source"]
    fees = await _json(await client.get("/api/intake/billing/fee-schedule", headers=h), 200)
    assert fees["items"]["ed_visit"]["amount"] == "28.30"
    assert "912/1992" in fees["fee_source"]
    paramedic = await auth_headers(app, client, Role.PARAMEDIC)
    assert (await client.get("/api/intake/legal-cases/rules", headers=paramedic)).status_code == 403
