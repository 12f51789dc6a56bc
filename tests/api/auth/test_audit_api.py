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
from tests.builders import PASSWORD, auth_headers, create_user, incident_body


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


async def test_the_audit_list_filters_and_names_who_acted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin_name = await create_user(app, Role.ADMIN)
    await client.post("/api/auth/token", data={"username": admin_name, "password": "wrong-one!"})
    tokens = (
        await client.post("/api/auth/token", data={"username": admin_name, "password": PASSWORD})
    ).json()
    admin = {"Authorization": f"Bearer {tokens['access_token']}"}
    key = (
        await client.post(
            "/api/api-keys", json={"name": "lab feed", "role": "integration"}, headers=admin
        )
    ).json()
    await client.get("/api/incidents", headers={"X-API-Key": key["key"]})
    await client.post("/api/incidents", json=incident_body(), headers={"X-API-Key": key["key"]})
    await client.delete(f"/api/api-keys/{key['id']}", headers=admin)
    await client.delete("/api/api-keys/no-such-key", headers=admin)

    newest = (await client.get("/api/audit?order=desc&limit=2", headers=admin)).json()
    assert [e["action"] for e in newest] == [
        "DELETE /api/api-keys/{key_id}",
        "DELETE /api/api-keys/{key_id}",
    ]
    assert newest[0]["seq"] > newest[1]["seq"]
    assert newest[0]["outcome"] == "failure:404"
    assert {e["actor_name"] for e in newest} == {admin_name}
    older = (
        await client.get(f"/api/audit?order=desc&after_seq={newest[1]['seq']}", headers=admin)
    ).json()
    assert all(e["seq"] < newest[1]["seq"] for e in older)

    by_key = (
        await client.get("/api/audit", params={"action": "/api/incidents"}, headers=admin)
    ).json()
    assert [(e["action"], e["actor_name"]) for e in by_key] == [
        ("POST /api/incidents", "API key lab feed")
    ]
    failures = (await client.get("/api/audit?failures=true", headers=admin)).json()
    assert [e["outcome"] for e in failures] == ["failure:401", "failure:404"]
    logins = (
        await client.get("/api/audit", params={"actor": f"login:{admin_name}"}, headers=admin)
    ).json()
    # A failed login names no account: the name typed is the actor, and no name is resolved.
    assert [(e["outcome"], e["actor_name"]) for e in logins] == [("failure:401", None)]
    bad = await client.get("/api/audit?order=sideways", headers=admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
