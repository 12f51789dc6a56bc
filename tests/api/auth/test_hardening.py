"""Issue #14: authorisation freshness over HTTP and WebSocket, the dashboard's cookie session,
the password policy and changes, hospitals that must exist, and the request gate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI

from emsync.auth import tokens
from emsync.auth.freshness import AccountStates
from emsync.auth.permissions import Role
from emsync.core import realtime
from emsync.core.clock import utcnow
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from tests.builders import PASSWORD, auth_headers, create_user, incident_body, login
from tests.conftest import TEST_SECRET
from tests.ports import free_port


async def _admin(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(app, client, Role.ADMIN)


async def _user_id(client: httpx.AsyncClient, admin: dict[str, str], username: str) -> str:
    users = (await client.get("/api/users", headers=admin)).json()
    return str(next(u["id"] for u in users if u["username"] == username))


async def test_a_deactivated_user_is_refused_at_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await _admin(app, client)
    name = await create_user(app, Role.DISPATCHER)
    headers = {"Authorization": f"Bearer {(await login(client, name))['access_token']}"}
    assert (await client.post("/api/incidents", json=incident_body(), headers=headers)).is_success
    uid = await _user_id(client, admin, name)
    assert (
        await client.patch(f"/api/users/{uid}", json={"active": False}, headers=admin)
    ).is_success
    refused = await client.post("/api/incidents", json=incident_body(), headers=headers)
    assert refused.status_code == 401
    assert "deactivated" in refused.json()["detail"]
    assert (await client.get("/api/incidents", headers=headers)).status_code == 401


async def test_a_demoted_user_loses_the_old_role_at_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await _admin(app, client)
    name = await create_user(app, Role.PARAMEDIC)
    headers = {"Authorization": f"Bearer {(await login(client, name))['access_token']}"}
    uid = await _user_id(client, admin, name)
    await client.patch(f"/api/users/{uid}", json={"role": "auditor"}, headers=admin)
    # The token still says paramedic; the account says otherwise.
    response = await client.post("/api/incidents", json=incident_body(), headers=headers)
    assert response.status_code == 401
    # A new login gets the new role: an auditor may read incidents but not write them.
    fresh = {"Authorization": f"Bearer {(await login(client, name))['access_token']}"}
    assert (await client.get("/api/incidents", headers=fresh)).status_code == 200
    assert (
        await client.post("/api/incidents", json=incident_body(), headers=fresh)
    ).status_code == 403


async def test_the_account_check_is_cached_until_a_change(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    states = app.state.runtime.get(AccountStates)
    await client.get("/api/incidents", headers=headers)
    before = states.lookups
    for _ in range(20):
        assert (await client.get("/api/incidents", headers=headers)).status_code == 200
    assert states.lookups == before


# --- WebSocket -------------------------------------------------------------------------------


@pytest.fixture
async def ws_base(app: FastAPI) -> AsyncIterator[str]:
    """The app served by a real uvicorn on loopback: WebSockets need a real server."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await _until(lambda: server.started)
    yield f"ws://127.0.0.1:{port}/ws"
    server.should_exit = True
    await task


async def _ws(base: str, token: str) -> Any:
    ws = await websockets.connect(base, subprotocols=["emsync.v1", f"bearer.{token}"])  # type: ignore[list-item]
    assert json.loads(await ws.recv())["type"] == "ready"
    return ws


async def _close_code(ws: Any) -> tuple[int, list[dict[str, Any]]]:
    """Read until the server closes: its close code and what it sent before."""
    messages = []
    try:
        while True:
            messages.append(await _next(ws))
    except websockets.ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd is not None else -1), messages


async def _until(condition: Any) -> None:
    for _ in range(1000):  # the server's own clean-up runs on this loop
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def _next(ws: Any) -> dict[str, Any]:
    # A bound on waiting, so a broken server fails the test instead of hanging it.
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))


async def test_deactivation_closes_the_websocket_at_once(
    app: FastAPI, client: httpx.AsyncClient, ws_base: str
) -> None:
    admin = await _admin(app, client)
    name = await create_user(app, Role.DISPATCHER)
    ws = await _ws(ws_base, (await login(client, name))["access_token"])
    await ws.send(json.dumps({"op": "subscribe", "channels": ["incidents"]}))
    assert (await _next(ws))["channels"] == {"incidents": "ok"}
    uid = await _user_id(client, admin, name)
    await client.patch(f"/api/users/{uid}", json={"active": False}, headers=admin)
    # Published after the deactivation: must not reach the deactivated user.
    await client.post("/api/incidents", json=incident_body(), headers=admin)
    code, messages = await _close_code(ws)
    assert code == 4403
    assert [m for m in messages if m.get("channel") == "incidents"] == []
    assert app.state.runtime.get(Hub).connection_count() == 0


async def test_a_websocket_session_ends_at_token_expiry_unless_renewed(
    app: FastAPI, client: httpx.AsyncClient, ws_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = await create_user(app, Role.DISPATCHER)
    await login(client, name)
    runtime: Runtime = app.state.runtime
    hub = runtime.get(Hub)
    admin = await _admin(app, client)
    uid = await _user_id(client, admin, name)

    def token(minutes: float) -> str:
        return tokens.issue_access_token(
            secret=TEST_SECRET,
            user_id=uid,
            username=name,
            role="dispatcher",
            hospital_id=None,
            now=utcnow(),
            lifetime=timedelta(minutes=minutes),
            version=0,
        )

    async def subscribed(minutes: float) -> Any:
        ws = await _ws(ws_base, token(minutes))
        await ws.send(json.dumps({"op": "subscribe", "channels": ["incidents"]}))
        await _next(ws)
        return ws

    expiring = await subscribed(10)
    renewed = await subscribed(10)
    await renewed.send(json.dumps({"op": "auth", "token": token(120)}))
    assert (await _next(renewed))["type"] == "authenticated"
    # An hour on the hub's clock: past the 10-minute tokens, within the renewed one.
    real = realtime._wall_clock
    monkeypatch.setattr(realtime, "_wall_clock", lambda: real() + 3600)
    hub.publish("incidents", "probe", {"n": 1})
    code, delivered = await _close_code(expiring)
    assert code == 4401
    assert [m for m in delivered if m.get("type") == "probe"] == []
    assert (await _next(renewed))["type"] == "probe"
    await renewed.close()


async def test_closed_subscriptions_are_freed_and_bounded(
    app: FastAPI, client: httpx.AsyncClient, ws_base: str
) -> None:
    hub = app.state.runtime.get(Hub)
    headers = await auth_headers(app, client, Role.CLINICIAN)
    ws = await _ws(ws_base, headers["Authorization"].removeprefix("Bearer "))
    for start in range(0, 600, 100):
        channels = [f"vitals:p{n}" for n in range(start, start + 100)]
        await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
        await _next(ws)
    assert hub.channel_count() == 500  # MAX_CHANNELS per connection
    await ws.close()
    await _until(lambda: hub.connection_count() == 0)
    assert hub.channel_count() == 0


# --- the dashboard's session cookie ---------------------------------------------------------


async def test_the_dashboard_session_keeps_the_refresh_token_in_an_httponly_cookie(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    name = await create_user(app, Role.DISPATCHER)
    response = await client.post("/api/auth/session", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    cookie = response.headers["set-cookie"].lower()
    for part in ("emsync_refresh=", "httponly", "samesite=strict", "path=/api/auth/session"):
        assert part in cookie
    # A plain-http test server: not Secure (docs/threat-model.md says why).
    assert "secure" not in cookie
    first = client.cookies.get("emsync_refresh")
    renewed = await client.post("/api/auth/session/refresh")
    assert renewed.status_code == 200
    assert client.cookies.get("emsync_refresh") != first
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {renewed.json()['access_token']}"}
    )
    assert me.json()["name"] == name
    foreign = await client.post(
        "/api/auth/session/refresh", headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert (await client.post("/api/auth/session/logout")).status_code == 204
    assert (await client.post("/api/auth/session/refresh")).status_code == 401


async def test_the_session_cookie_is_secure_over_https(app: FastAPI) -> None:
    name = await create_user(app, Role.DISPATCHER)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as tls:
        response = await tls.post(
            "/api/auth/session", json={"username": name, "password": PASSWORD}
        )
    assert "secure" in response.headers["set-cookie"].lower()
    assert response.headers["strict-transport-security"].startswith("max-age=")


# --- passwords and hospitals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["password1234", " " * 16, "a" * 16, "123456789012345678", "qwertyuiopasdfgh"],
)
async def test_weak_passwords_are_refused_naming_the_field(
    app: FastAPI, client: httpx.AsyncClient, password: str
) -> None:
    admin = await _admin(app, client)
    response = await client.post(
        "/api/users",
        json={"username": "weak.one", "password": password, "role": "dispatcher"},
        headers=admin,
    )
    assert response.status_code == 422
    assert any(e["field"].endswith("password") for e in response.json()["errors"])


async def test_a_users_hospital_must_exist(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await _admin(app, client)
    body = {"username": "ghost.staff", "password": PASSWORD, "role": "clinician"}
    missing = await client.post(
        "/api/users", json={**body, "hospital_id": "no-such-hospital"}, headers=admin
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "hospital_id"
    hospital = await client.post(
        "/api/hospitals", json={"name": "Real General", "lat": 60.17, "lon": 24.94}, headers=admin
    )
    created = await client.post(
        "/api/users", json={**body, "hospital_id": hospital.json()["id"]}, headers=admin
    )
    assert created.status_code == 201
    key = await client.post(
        "/api/api-keys",
        json={"name": "k", "role": "integration", "hospital_id": "no-such-hospital"},
        headers=admin,
    )
    assert key.status_code == 422


async def test_changing_ones_password_ends_every_session(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    name = await create_user(app, Role.CLINICIAN)
    first = await login(client, name)
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    new = "a different and long passphrase"
    wrong = await client.post(
        "/api/auth/password",
        json={"current_password": "not-the-password", "new_password": new},
        headers=headers,
    )
    assert wrong.status_code == 401
    weak = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "passwordpassword"},
        headers=headers,
    )
    assert weak.status_code == 422
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": new},
        headers=headers,
    )
    assert changed.status_code == 204
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
    stale = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stale.status_code == 401
    await login(client, name, new)


# --- the request gate ------------------------------------------------------------------------


async def test_an_anonymous_body_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(200):  # 12.5 MiB if read
            pulled += 1
            yield b"x" * 65536

    response = await client.post("/api/incidents", content=body())
    assert response.status_code == 401
    assert pulled <= 1
    declared = await client.post(
        "/api/incidents", content=b"{}", headers={"Content-Length": str(100 * 1024 * 1024)}
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"


async def test_an_authenticated_body_over_the_route_limit_is_a_413(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(40):  # 2.5 MiB, chunked: no Content-Length to refuse it by
            yield b" " * 65536

    response = await client.post("/api/incidents", content=body(), headers=headers)
    assert response.status_code == 413
    login_form = await client.post(
        "/api/auth/token", data={"username": "u" * 20_000, "password": "p"}
    )
    assert login_form.status_code == 413


async def test_every_response_carries_the_security_headers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    responses = [
        await client.get("/health"),
        await client.get("/api/incidents"),  # 401
        await client.get("/api/incidents", headers=headers),
        await client.get("/api/nowhere", headers=headers),  # 404
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    for response in responses[1:]:
        assert response.headers["cache-control"] == "no-store"
    docs = await client.get("/docs")
    assert "'sha256-" in docs.headers["content-security-policy"]
