"""Every state-changing request and every login is in the hash-chained, append-only audit log."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from emsync.auth import audit
from emsync.auth.checkpoints import AuditKey
from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from tests.app_routes import all_routes
from tests.builders import auth_headers, create_user, incident_body


async def test_changes_and_logins_are_audited_with_actor_and_outcome(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    name = await create_user(app, Role.CLINICIAN)
    await client.post("/api/auth/token", data={"username": name, "password": "wrong-password!"})
    created = await client.post(
        "/api/incidents", json=incident_body(), headers={**headers, "X-Request-ID": "req-abc-12345"}
    )
    incident_id = created.json()["id"]
    await client.post(
        f"/api/incidents/{incident_id}/status", json={"status": "closed"}, headers=headers
    )
    auditor = await auth_headers(app, client, Role.AUDITOR)
    entries = (await client.get("/api/audit?limit=1000", headers=auditor)).json()
    actions = [(e["action"], e["outcome"]) for e in entries]
    assert ("POST /api/auth/token", "failure:401") in actions
    assert ("POST /api/auth/token", "success") in actions
    create = next(e for e in entries if e["action"] == "POST /api/incidents")
    assert create["request_id"] == "req-abc-12345"
    assert create["actor"].startswith("user:")
    assert create["outcome"] == "success"
    move = next(e for e in entries if e["action"] == "POST /api/incidents/{incident_id}/status")
    assert move["outcome"] == "failure:409"
    assert incident_id in move["target"]
    failed_login = next(e for e in entries if e["outcome"] == "failure:401")
    assert failed_login["actor"] == f"login:{name}"
    verified = (await client.get("/api/audit/verify", headers=auditor)).json()
    assert verified["ok"] is True
    assert verified["entries"] == len(entries)


async def test_the_audit_log_has_no_write_routes(app: FastAPI) -> None:
    audit_routes = [
        r for r in all_routes(list(app.routes)) if getattr(r, "path", "").startswith("/api/audit")
    ]
    assert len(audit_routes) == 2
    for route in audit_routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/audit"):
            assert getattr(route, "methods", set()) <= {"GET", "HEAD"}


async def test_the_database_refuses_to_edit_or_delete_audit_rows(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await auth_headers(app, client, Role.DISPATCHER)
    runtime: Runtime = app.state.runtime
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement))


async def test_verify_detects_an_edit_made_behind_the_triggers_back(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    for _ in range(3):
        await client.post("/api/incidents", json=incident_body(), headers=headers)
    runtime: Runtime = app.state.runtime
    async with runtime.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(text("UPDATE audit_log SET outcome = 'tampered' WHERE seq = 2"))
    async with runtime.sessions() as session:
        report = await audit.verify(session=session, key=runtime.get(AuditKey))
    assert not report.ok
    assert report.first_broken_seq == 2
