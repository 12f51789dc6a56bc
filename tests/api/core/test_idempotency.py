"""Idempotency keys on writes (issue #23), on SQLite and PostgreSQL: a repeat with the same key
acts once and answers the first response; another request under the same key is refused."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.core.idempotency import IdempotentRequest, fingerprint
from emsync.core.runtime import Runtime
from emsync.handoffs.models import HandoffAttachment
from emsync.incidents.models import Incident
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import PNG, handoff_body

HOSPITAL = "hosp-north"


async def _count(app: FastAPI, column: Any, *where: Any) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count(column)).where(*where)) or 0)


async def test_a_repeated_write_acts_once_and_replays_the_first_answer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    keyed = {**headers, "Idempotency-Key": "call-4711"}
    first = await client.post("/api/incidents", json=incident_body(), headers=keyed)
    again = await client.post("/api/incidents", json=incident_body(), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count(app, Incident.id) == 1
    # The kept response is PHI (the caller's number): sealed at rest, not stored in clear.
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        row = await session.get(IdempotentRequest, (f"user:{_user_id(first)}", "call-4711"))
    assert row is not None
    assert row.response_sealed is not None
    assert b"+358" not in row.response_sealed


def _user_id(response: httpx.Response) -> str:
    created_by: str = response.json()["created_by"]
    return created_by.removeprefix("user:")


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = {**await auth_headers(app, client, Role.DISPATCHER), "Idempotency-Key": "k-1"}
    assert (await client.post("/api/incidents", json=incident_body(), headers=headers)).is_success
    other = await client.post(
        "/api/incidents", json=incident_body(chief_complaint="fall"), headers=headers
    )
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "different request" in other.json()["detail"]
    assert await _count(app, Incident.id) == 1


async def test_keys_are_per_caller_and_a_new_key_is_a_new_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await auth_headers(app, client, Role.DISPATCHER)
    bob = await auth_headers(app, client, Role.DISPATCHER)
    for headers in (alice, bob):
        response = await client.post(
            "/api/incidents", json=incident_body(), headers={**headers, "Idempotency-Key": "same"}
        )
        assert response.status_code == 201
    fresh = await client.post(
        "/api/incidents", json=incident_body(), headers={**alice, "Idempotency-Key": "other"}
    )
    assert fresh.status_code == 201
    assert await _count(app, Incident.id) == 3


async def test_a_refusal_is_the_answer_a_repeat_gets(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = {**await auth_headers(app, client, Role.DISPATCHER), "Idempotency-Key": "bad-1"}
    body = incident_body(priority=9)
    first = await client.post("/api/incidents", json=body, headers=headers)
    again = await client.post("/api/incidents", json=body, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert await _count(app, Incident.id) == 0


async def test_a_malformed_key_is_refused_before_the_route_runs(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = {**await auth_headers(app, client, Role.DISPATCHER), "Idempotency-Key": "a b"}
    response = await client.post("/api/incidents", json=incident_body(), headers=headers)
    assert response.status_code == 400
    assert await _count(app, Incident.id) == 0


async def test_an_attachment_sent_twice_with_fresh_multipart_boundaries_is_stored_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    created = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], HOSPITAL), headers=crew
    )
    hid = created.json()["id"]
    url = f"/api/handoffs/{hid}/attachments"
    keyed = {**crew, "Idempotency-Key": "photo-1"}
    answers = [
        await client.post(
            url,
            data={"kind": "photo"},
            files={"file": ("wound.png", PNG, "image/png")},
            headers=keyed,
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert await _count(app, HandoffAttachment.id, HandoffAttachment.handoff_id == hid) == 1


async def test_refused_attachments_leave_no_stored_state(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    incident = (await client.post("/api/incidents", json=incident_body(), headers=crew)).json()
    created = await client.post(
        "/api/handoffs", json=handoff_body(incident["id"], HOSPITAL), headers=crew
    )
    hid = created.json()["id"]
    before = (await client.get(f"/api/handoffs/{hid}", headers=crew)).json()
    url = f"/api/handoffs/{hid}/attachments"
    gif = b"GIF89a" + b"\x00" * 64
    exe = b"MZ\x90\x00" * 20
    too_big = PNG + b"\x00" * (10 * 1024 * 1024)
    for n, (name, content, declared) in enumerate(
        [("x.gif", gif, "image/gif"), ("x.png", exe, "image/png"), ("x.png", too_big, "image/png")]
    ):
        refused = await client.post(
            url,
            data={"kind": "photo"},
            files={"file": (name, content, declared)},
            headers={**crew, "Idempotency-Key": f"bad-{n}"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "file"
    after = (await client.get(f"/api/handoffs/{hid}", headers=crew)).json()
    assert after["attachments"] == []
    assert after["updated_at"] == before["updated_at"]
    assert await _count(app, HandoffAttachment.id) == 0


def test_the_multipart_boundary_is_not_part_of_the_request() -> None:
    def form(boundary: str) -> tuple[str, bytes]:
        body = f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nphoto\r\n'
        return f"multipart/form-data; boundary={boundary}", f"{body}--{boundary}--\r\n".encode()

    a, b = form("AaB03x"), form("zz9")
    assert fingerprint("POST", "/x", b"", *a) == fingerprint("POST", "/x", b"", *b)
    assert fingerprint("POST", "/x", b"", *a) != fingerprint("POST", "/y", b"", *a)
    assert fingerprint("POST", "/x", b"", "application/json", b"{}") != fingerprint(
        "POST", "/x", b"", "application/json", b"[]"
    )
