"""Where an incident's patient is going, as its handoffs say: recorded in the handoff's own
transaction (incidents' reaction runs before the handoff commits), replaced on a redirect,
dropped when the handoff is cancelled, and never invented for an incident this hub lacks."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.handoffs.events import HandoffSent
from emsync.incidents import handlers as incidents_handlers
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import handoff_body

NORTH, SOUTH = "hosp-north", "hosp-south"


async def test_a_handoffs_destination_follows_it_and_goes_with_its_cancellation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime = app.state.runtime
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()

    async def going_to() -> list[str]:
        return await incidents_handlers.destinations(runtime=runtime, incident_id=incident["id"])

    draft = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], NORTH), headers=crew
    )
    assert draft.status_code == 201, draft.text
    assert await going_to() == [NORTH]
    handoff_id = draft.json()["id"]
    assert (await client.post(f"/api/handoffs/{handoff_id}/send", headers=crew)).status_code == 200
    redirected = await client.post(
        f"/api/handoffs/{handoff_id}/redirect", json={"hospital_id": SOUTH}, headers=crew
    )
    assert redirected.status_code == 200, redirected.text
    assert await going_to() == [SOUTH]
    cancelled = await client.post(
        f"/api/handoffs/{handoff_id}/status", json={"status": "cancelled"}, headers=crew
    )
    assert cancelled.status_code == 200, cancelled.text
    assert await going_to() == []


async def test_a_handoff_for_an_incident_this_hub_lacks_records_no_destination(
    app: FastAPI,
) -> None:
    runtime: Runtime = app.state.runtime
    event = HandoffSent(
        handoff_id="h-1",
        hospital_id=NORTH,
        incident_id="not-held-here",
        unit_id=None,
        status="sent",
        old="draft",
        new="sent",
        actor="test",
    )
    async with runtime.sessions() as session:
        assert await incidents_handlers.destination_of_handoff(runtime, session, event) == ()
        await session.commit()
    assert await incidents_handlers.destinations(runtime=runtime, incident_id="not-held-here") == []
