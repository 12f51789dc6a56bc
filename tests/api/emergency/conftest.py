"""Emergency API fixtures: an emergency manager's headers on the shared app."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers


@pytest.fixture
async def manager(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(app, client, Role.EMERGENCY_MANAGER)
