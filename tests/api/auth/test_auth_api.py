"""Login, refresh rotation with reuse detection, API keys, rate limiting, RBAC."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import PASSWORD, auth_headers, create_user, incident_body, login


async def test_login_gives_tokens_that_open_the_api(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    name = await create_user(app, Role.DISPATCHER)
    tokens = await login(client, name)
    assert tokens["token_type"] == "bearer"
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["role"] == "dispatcher"
    assert "incidents:write" in me.json()["permissions"]


async def test_wrong_password_is_a_401_problem(app: FastAPI, client: httpx.AsyncClient) -> None:
    name = await create_user(app, Role.DISPATCHER)
    response = await client.post(
        "/api/auth/token", data={"username": name, "password": "nope-nope-nope"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    unknown = await client.post("/api/auth/token", data={"username": "ghost", "password": PASSWORD})
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == response.json()["detail"]


async def test_refresh_rotates_and_reuse_revokes_the_family(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    name = await create_user(app, Role.PARAMEDIC)
    first = await login(client, name)
    second = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second_refresh = second.json()["refresh_token"]
    assert second_refresh != first["refresh_token"]
    # The first token is replayed (stolen?): refused, and its whole family dies.
    replay = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    after = await client.post("/api/auth/refresh", json={"refresh_token": second_refresh})
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    tokens = await login(client, await create_user(app, Role.CLINICIAN))
    out = await client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    again = await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


async def test_login_is_rate_limited_per_account(app: FastAPI, client: httpx.AsyncClient) -> None:
    name = await create_user(app, Role.DISPATCHER)
    for _ in range(5):
        bad = await client.post(
            "/api/auth/token", data={"username": name, "password": "wrong-password"}
        )
        assert bad.status_code == 401
    blocked = await client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_api_keys_are_shown_once_work_and_can_be_revoked(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    issued = await client.post(
        "/api/api-keys", json={"name": "cad-bridge", "role": "integration"}, headers=admin
    )
    assert issued.status_code == 201
    key = issued.json()["key"]
    listed = await client.get("/api/api-keys", headers=admin)
    assert "key" not in listed.json()[0]
    machine = {"X-API-Key": key}
    assert (
        await client.post("/api/incidents", json=incident_body(), headers=machine)
    ).status_code == 201
    revoked = await client.delete(f"/api/api-keys/{issued.json()['id']}", headers=admin)
    assert revoked.status_code == 200
    assert (await client.get("/api/incidents", headers=machine)).status_code == 401


async def test_a_tampered_token_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await auth_headers(app, client, Role.ADMIN)
    token = headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    # The first character changed (its six bits all count; the last one's may be padding bits
    # a decoder ignores), and always to another: "AA" at the end was a no-op for ~1 token in 1,000.
    first = "B" if signature[0] == "A" else "A"
    forged = f"{header}.{payload}.{first}{signature[1:]}"
    response = await client.get("/api/users", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_only_admins_manage_users(app: FastAPI, client: httpx.AsyncClient) -> None:
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    body = {"username": "newbie", "password": "long-enough-password", "role": "clinician"}
    assert (await client.post("/api/users", json=body, headers=dispatcher)).status_code == 403
    admin = await auth_headers(app, client, Role.ADMIN)
    assert (await client.post("/api/users", json=body, headers=admin)).status_code == 201
    duplicate = await client.post("/api/users", json=body, headers=admin)
    assert duplicate.status_code == 409


async def test_disabling_a_user_ends_their_sessions(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    name = await create_user(app, Role.DISPATCHER)
    tokens = await login(client, name)
    users = (await client.get("/api/users", headers=admin)).json()
    user_id = next(u["id"] for u in users if u["username"] == name)
    assert (
        await client.patch(f"/api/users/{user_id}", json={"active": False}, headers=admin)
    ).status_code == 200
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    relogin = await client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
    assert relogin.status_code == 401
