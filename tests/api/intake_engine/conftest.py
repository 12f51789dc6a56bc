"""Intake API fixtures: the app runs the engine with recording agents; a clinician (may
override) and a paramedic (may not)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.settings import Settings
from emsync.intake.engine import IntakeEngine
from tests.builders import auth_headers
from tests.conftest import make_settings
from tests.intake_support import RecordingAgent, recording_agents

# The engine's settings for these tests (a module may add to them: its own `intake_engine`).
ENGINE: dict[str, Any] = {
    "attempts": 2,
    "beside_attempts": 2,
    "backoff_seconds": 0,
    "poll_seconds": 3600,
    "breaker_failures": 50,
}


@pytest.fixture
def intake_engine() -> dict[str, Any]:
    return dict(ENGINE)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, intake_engine: dict[str, Any]) -> Settings:
    return make_settings(database_url, tmp_path, intake_engine=intake_engine)


@pytest.fixture
def agents() -> dict[str, RecordingAgent]:
    return recording_agents()


@pytest.fixture
async def app(settings: Settings, agents: dict[str, RecordingAgent]) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.state.runtime.get(IntakeEngine).use(agents)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def clinician(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(app, client, Role.CLINICIAN, hospital_id="hospital-a")


@pytest.fixture
async def paramedic(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(app, client, Role.PARAMEDIC)
