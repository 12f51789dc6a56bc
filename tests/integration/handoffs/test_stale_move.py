"""A status move made from a stale read of its handoff (another change committed in between) is
a 409 and writes nothing: no status, no log entry, nothing in the hospital's feed. The move is a
Core UPDATE under the version check the unit of work's flush made (issue #16)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.errors import Conflict
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs import outbox, transitions
from emsync.handoffs.lifecycle import HandoffStatus, Side
from emsync.handoffs.reads import load_handoff
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import sent_handoff

HOSPITAL = "hosp-stale"


async def test_a_move_from_a_stale_read_is_a_conflict_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime = app.state.runtime
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    handoff_id = (await sent_handoff(client, crew, incident["id"], HOSPITAL))["id"]

    async with runtime.sessions() as session:
        stale = await load_handoff(session, handoff_id)
        await session.commit()  # the read's transaction ends; the session keeps what it read
        acked = await client.post(
            f"/api/handoffs/{handoff_id}/receipt",
            json={"status": "acknowledged"},
            headers=nurse,
        )
        assert acked.status_code == 200, acked.text
        assert stale.status == HandoffStatus.SENT.value  # still as read
        # Within a request the row is read FOR UPDATE, so this is what a writer that read it
        # without a lock would meet: the move and its flush, as a use case runs them.
        uow = UnitOfWork(session, runtime.bus)

        async def move_and_flush() -> None:
            await transitions.move(
                uow, stale, HandoffStatus.ARRIVED, Side.CREW, "test:crew", runtime.clock()
            )
            await outbox.flush(uow)

        with pytest.raises(Conflict):
            await move_and_flush()
        await session.rollback()

    read = (await client.get(f"/api/handoffs/{handoff_id}", headers=nurse)).json()
    assert read["status"] == "acknowledged"
    assert [u["status_to"] for u in read["updates"]] == ["sent", "acknowledged"]
    feed = (
        await client.get("/api/handoffs/feed", params={"hospital_id": HOSPITAL}, headers=nurse)
    ).json()
    assert [e["kind"] for e in feed["entries"]] == ["handoff", "status"]
    assert feed["entries"][-1]["meta"]["status"] == "acknowledged"
