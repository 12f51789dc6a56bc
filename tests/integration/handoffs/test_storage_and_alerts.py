"""What is at rest holds no plaintext handoff content; unacknowledged handoffs alert the
dispatcher once; the bridge handler drafts from a destination event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.background import ProcessRole
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.dispatch.events import DestinationChosen
from emsync.handoffs.events import HandoffAcknowledged, HandoffAcknowledgementOverdue
from emsync.handoffs.handlers import draft_on_destination
from emsync.handoffs.models import Handoff
from emsync.handoffs.watch import AcknowledgementWatch
from emsync.notifications.models import Page
from emsync.triage.events import PatientTriaged
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import COMPLAINT, FINDING, PATIENT_NAME, PDF, sent_handoff

HOSPITAL = "hosp-raw"
NOTE = "family history marker-c0ffee"
FILENAME = "ecg-marker-4242.pdf"
MARKERS = [PATIENT_NAME, COMPLAINT, FINDING, "Paramedic Kallio", NOTE, FILENAME, "ECG 12-lead"]
TABLES = [
    "handoffs",
    "handoff_updates",
    "handoff_attachments",
    "handoff_outbox",
    "handoff_hospital_keys",
    "handoff_feed_cursors",
]


async def test_raw_database_holds_no_plaintext_handoff_content(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    hid = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
    note = {"kind": "note", "note": NOTE}
    assert (await client.post(f"/api/handoffs/{hid}/updates", json=note, headers=crew)).is_success
    upload = await client.post(
        f"/api/handoffs/{hid}/attachments",
        data={"kind": "ecg"},
        files={"file": (FILENAME, PDF, "application/pdf")},
        headers=crew,
    )
    assert upload.status_code == 201
    moved = await client.post(
        f"/api/handoffs/{hid}/redirect", json={"hospital_id": "hosp-raw-2"}, headers=crew
    )
    assert moved.status_code == 200
    url = settings.database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"handoff_updates" in raw  # the file really is the database
        for marker in MARKERS:
            assert marker.encode() not in raw, marker
        return
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        rows = [
            str(row[0])
            for table in TABLES
            for row in await conn.fetch(f"SELECT t::text FROM {table} t")  # noqa: S608
        ]
    finally:
        await conn.close()
    dump = "\n".join(rows)
    assert hid in dump  # the rows really are there
    for marker in MARKERS:
        assert marker not in dump, marker
        assert marker.encode().hex() not in dump, marker  # nor inside a bytea


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[FastAPI, Clock]]:
    clock = Clock()
    application = create_app(settings, roles=(ProcessRole.API,), clock=clock)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application, clock


async def test_unacknowledged_handoff_alerts_the_dispatcher_once(
    clocked: tuple[FastAPI, Clock],
) -> None:
    app, clock = clocked
    runtime: Runtime = app.state.runtime
    alerts: list[HandoffAcknowledgementOverdue] = []

    async def collect(event: HandoffAcknowledgementOverdue) -> None:
        alerts.append(event)

    runtime.bus.subscribe(HandoffAcknowledgementOverdue, collect)
    watch = runtime.get(AcknowledgementWatch)
    timeout = runtime.settings.handoffs.ack_timeout_seconds
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        crew = await auth_headers(app, client, Role.PARAMEDIC)
        nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
        incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
        ignored = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
        answered = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
        ack = {"status": "acknowledged"}
        response = await client.post(f"/api/handoffs/{answered}/receipt", json=ack, headers=nurse)
        assert response.status_code == 200
        clock.now += timedelta(seconds=timeout - 1)
        assert await watch.check_once() == []
        clock.now += timedelta(seconds=2)
        raised = await watch.check_once()
        assert [a.handoff_id for a in raised] == [ignored]
        assert await watch.check_once() == []  # once per sending, not every round
    assert [a.handoff_id for a in alerts] == [ignored]
    assert alerts[0].overdue_seconds >= timeout


async def test_destination_event_drafts_a_handoff_for_the_unit(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime = app.state.runtime
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    body: dict[str, Any] = incident_body(patients=[{"age_years": 80, "sex": "female"}])
    incident = (await client.post("/api/incidents", json=body, headers=crew)).json()
    event = DestinationChosen(
        incident_id=incident["id"], unit_id="MEDIC-3", hospital_id=HOSPITAL, eta=None, actor="t"
    )
    await draft_on_destination(runtime, event)
    await draft_on_destination(runtime, event)  # a repeat refreshes the draft, adds none
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(Handoff))).all()
    assert [(r.status, r.unit_id, r.hospital_id) for r in rows] == [("draft", "MEDIC-3", HOSPITAL)]
    # A later triage result reaches the open draft through the bus (wired in bootstrap).
    triaged = PatientTriaged(
        incident_id=incident["id"],
        patient_id=incident["patients"][0]["id"],
        level=1,
        news2=9,
        mode="rules",
        model_version="test",
        chief_complaint="chest pain",
    )
    await runtime.bus.publish(triaged)
    opened = await client.get(f"/api/handoffs/{rows[0].id}", headers=crew)
    assert opened.json()["acuity"] == 1
    assert opened.json()["news2"] == 9


async def test_only_an_alerted_sending_has_its_page_resolved_on_acknowledgement(
    clocked: tuple[FastAPI, Clock],
) -> None:
    """The page check on acknowledgement is skipped for a sending never alerted as overdue (no
    page can be open for it); an alerted one still has its page resolved by the acknowledgement."""
    app, clock = clocked
    runtime: Runtime = app.state.runtime
    acks: list[HandoffAcknowledged] = []

    async def collect(event: HandoffAcknowledged) -> None:
        acks.append(event)

    runtime.bus.subscribe(HandoffAcknowledged, collect)
    watch = runtime.get(AcknowledgementWatch)
    timeout = runtime.settings.handoffs.ack_timeout_seconds
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        crew = await auth_headers(app, client, Role.PARAMEDIC)
        nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
        incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
        late = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
        prompt = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]
        ack = {"status": "acknowledged"}
        response = await client.post(f"/api/handoffs/{prompt}/receipt", json=ack, headers=nurse)
        assert response.status_code == 200
        clock.now += timedelta(seconds=timeout + 1)
        assert [a.handoff_id for a in await watch.check_once()] == [late]
        async with runtime.sessions() as session:
            opened = (await session.scalars(select(Page).where(Page.subject_id == late))).one()
        assert opened.status == "open"
        response = await client.post(f"/api/handoffs/{late}/receipt", json=ack, headers=nurse)
        assert response.status_code == 200
    assert [(a.handoff_id, a.overdue_alerted) for a in acks] == [(prompt, False), (late, True)]
    async with runtime.sessions() as session:
        pages = (
            await session.scalars(select(Page).where(Page.subject_id.in_([late, prompt])))
        ).all()
    assert [(p.subject_id, p.status) for p in pages] == [(late, "resolved")]
