"""A rejected request changes no stored state (only the audit log records that it happened)."""

from __future__ import annotations

import hashlib

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.migrations.metadata import target_metadata
from tests.builders import auth_headers, incident_body


async def snapshot(app: FastAPI) -> dict[str, str]:
    """A digest of every row of every table except the audit log and the intake workers'
    heartbeats (the worker's own liveness, written every few seconds whatever the requests)."""
    runtime: Runtime = app.state.runtime
    digests = {}
    async with runtime.engine.connect() as conn:
        for table in target_metadata.sorted_tables:
            if table.name in ("audit_log", "intake_workers"):
                continue
            rows = (await conn.execute(select(table))).all()
            text = "\n".join(sorted(repr(tuple(r)) for r in rows))
            digests[table.name] = hashlib.sha256(text.encode()).hexdigest()
    return digests


async def test_rejected_requests_leave_the_database_unchanged(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    auditor = await auth_headers(app, client, Role.AUDITOR)
    admin = await auth_headers(app, client, Role.ADMIN)
    incident = (
        await client.post("/api/incidents", json=incident_body(), headers=dispatcher)
    ).json()
    iid = incident["id"]
    before = await snapshot(app)
    rejected = [
        ("POST", f"/api/incidents/{iid}/status", {"status": "closed"}, dispatcher, 409),
        ("POST", f"/api/incidents/{iid}/status", {"status": "flying"}, dispatcher, 422),
        ("PATCH", f"/api/incidents/{iid}", {"priority": 9}, dispatcher, 422),
        ("PATCH", f"/api/incidents/{iid}", {"lat": 60.0}, dispatcher, 422),
        ("PATCH", f"/api/incidents/{iid}", {"priority": 1}, auditor, 403),
        ("POST", "/api/incidents", {**incident_body(), "unknown": 1}, dispatcher, 422),
        ("POST", "/api/incidents", incident_body(callback_number="call me"), dispatcher, 422),
        (
            "POST",
            "/api/incidents",
            incident_body(patients=[{"age_years": 30}, {"age_years": 999}]),
            dispatcher,
            422,
        ),
        ("POST", "/api/incidents/nope/patients", {"age_years": 3}, dispatcher, 404),
        ("POST", "/api/users", {"username": "x", "password": "short", "role": "admin"}, admin, 422),
        (
            "POST",
            "/api/users",
            {"username": "dev1", "password": "p" * 12, "role": "device"},
            admin,
            422,
        ),
        ("POST", "/api/incidents", incident_body(), {}, 401),
    ]
    for method, path, body, headers, status in rejected:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (method, path, response.text)
    assert await snapshot(app) == before
