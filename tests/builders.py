"""Small builders for test data: users with tokens, incidents."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth import service as auth_service
from emsync.auth.models import User
from emsync.auth.passwords import Passwords
from emsync.auth.permissions import Role
from emsync.auth.schemas import UserCreate
from emsync.core.clock import utcnow
from emsync.core.runtime import Runtime

PASSWORD = "correct-horse-battery"
_n = itertools.count(1)


async def _any_hospital(_session: object, _hospital_id: str) -> bool:
    # Test data: handoff tests name hospitals by id without creating their rows. The check that
    # a user's hospital exists has its own tests (tests/api/auth/test_hardening.py).
    return True


async def create_user(app: FastAPI, role: Role, *, hospital_id: str | None = None) -> str:
    runtime: Runtime = app.state.runtime
    username = f"{role.value}{next(_n)}"
    async with runtime.sessions() as session:
        await auth_service.create_user(
            session=session,
            passwords=runtime.get(Passwords),
            data=UserCreate(
                username=username, password=PASSWORD, role=role, hospital_id=hospital_id
            ),
            now=utcnow(),
            hospital_exists=_any_hospital,
        )
        await session.commit()
    return username


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        "/api/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def auth_headers(
    app: FastAPI, client: httpx.AsyncClient, role: Role, *, hospital_id: str | None = None
) -> dict[str, str]:
    """Headers of a freshly created and logged-in user of `role`."""
    username = await create_user(app, role, hospital_id=hospital_id)
    tokens = await login(client, username)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def incident_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "chief_complaint": "chest pain radiating to left arm",
        "priority": 2,
        "address": "Mannerheimintie 1, Helsinki",
        "lat": 60.1699,
        "lon": 24.9384,
        "caller_name": "Aino Virtanen",
        "callback_number": "+358 40 123 4567",
    }
    body.update(overrides)
    return body


async def insert_account(
    runtime: Runtime, *, user_id: str, role: Role, hospital_id: str | None = None
) -> None:
    """An active account with this id, for tests that issue tokens by hand: every token is
    checked against its account (issue #14), so a token for no account is refused."""
    async with runtime.sessions() as session:
        if await session.get(User, user_id) is None:
            session.add(
                User(
                    id=user_id,
                    username=user_id,
                    password_hash="!",  # no password logs in as this account
                    role=role.value,
                    hospital_id=hospital_id,
                    active=True,
                    created_at=utcnow(),
                    auth_version=0,
                )
            )
            await session.commit()
