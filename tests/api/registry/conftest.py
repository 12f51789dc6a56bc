"""Registry API fixtures: a clinician (read, write, merge) and a paramedic on the shared app."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from emsync.auth.permissions import Role
from tests.builders import auth_headers


@pytest.fixture
async def clinician(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(app, client, Role.CLINICIAN, hospital_id="hospital-a")


@pytest.fixture
async def paramedic(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(app, client, Role.PARAMEDIC)
