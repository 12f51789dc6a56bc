"""Telemetry integration fixtures: a private Mosquitto and an app whose ingest consumes it."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.core.settings import Settings
from emsync.telemetry.ingest import MqttIngest
from tests.conftest import make_settings
from tests.mosquitto import Mosquitto, running_mosquitto

_ids = itertools.count()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mqtt") as mosq:
        yield mosq


def telemetry_settings(
    database_url: str, tmp_path: Path, port: int, *, shared: bool = True, **telemetry: object
) -> Settings:
    """Shared subscription (MQTT 5 `$share/...`) unless a test needs the plain one."""
    return make_settings(
        database_url,
        tmp_path,
        mqtt={
            "host": "127.0.0.1",
            "port": port,
            "client_id": f"emsync-test-{os.getpid()}-{next(_ids)}",
            "reconnect_min_seconds": 0.1,
            "reconnect_max_seconds": 1,
            "device_cache_seconds": 0,
            "store_retry_seconds": 0.05,
            "shared_subscription": shared,
        },
        telemetry={"alert_holdoff_seconds": 0, **telemetry},
    )


async def wait_subscribed(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    ingest = runtime.get(MqttIngest)
    for _ in range(200):
        if ingest.subscribed.is_set():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("ingest never subscribed")


@pytest.fixture
def tele_settings(database_url: str, tmp_path: Path, broker: Mosquitto) -> Settings:
    return telemetry_settings(database_url, tmp_path, broker.port)


@pytest.fixture
async def tele_app(tele_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(tele_settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(application)
        yield application


@pytest.fixture
async def tele_client(tele_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tele_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
