"""A handoff change is rendered for the live push only for channels someone listens to: nobody on
the hospital's channel or the board, nothing opened for them; a listener who joins later gets
the next change (and the feed has every entry for catch-up)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.core.realtime import Hub, Subscriber
from emsync.core.runtime import Runtime
from emsync.handoffs import outbox
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import handoff_body

HOSPITAL = "hosp-audience"


async def test_changes_nobody_listens_to_are_not_rendered_and_a_later_listener_is_served(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime: Runtime = app.state.runtime
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    opened: list[str] = []
    entry_read = outbox.entry_read

    async def counting_entry_read(*args: Any, **kwargs: Any) -> Any:
        opened.append(args[3].hospital_id)  # the viewer the entry is rendered for
        return await entry_read(*args, **kwargs)

    monkeypatch.setattr(outbox, "entry_read", counting_entry_read)
    created = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], HOSPITAL), headers=crew
    )
    handoff_id = created.json()["id"]
    sent = await client.post(f"/api/handoffs/{handoff_id}/send", headers=crew)
    assert sent.status_code == 200, sent.text
    assert opened == []  # no one on the hospital's channel: the sent record was not opened

    hub = runtime.get(Hub)
    desk = Subscriber(principal=Principal("n", "n", Role.CLINICIAN, "user", hospital_id=HOSPITAL))
    board = Subscriber(principal=Principal("d", "d", Role.DISPATCHER, "user"))
    assert await hub.subscribe(desk, f"handoffs:{HOSPITAL}") is None
    assert await hub.subscribe(board, "handoffs") is None
    acked = await client.post(
        f"/api/handoffs/{handoff_id}/receipt", json={"status": "acknowledged"}, headers=nurse
    )
    assert acked.status_code == 200, acked.text
    assert opened == [HOSPITAL]
    to_desk = desk.queue.get_nowait()
    assert (to_desk["type"], to_desk["data"]["update"]["status_to"]) == ("status", "acknowledged")
    to_board = board.queue.get_nowait()
    assert (to_board["type"], to_board["data"]["status"]) == ("board", "acknowledged")
    # The feed holds both entries, for a client that was not listening.
    feed = await client.get("/api/handoffs/feed", params={"hospital_id": HOSPITAL}, headers=nurse)
    assert [e["kind"] for e in feed.json()["entries"]] == ["handoff", "status"]
