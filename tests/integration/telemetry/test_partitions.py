"""Two ingest processes' worth of apps on one database and one broker, sharing the devices by
partition (no shared subscription): every reading is stored exactly once, by its device's
owner, and each app acknowledges the other's readings without storing them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.settings import Settings
from emsync.telemetry.partition import partition_of
from tests.builders import auth_headers
from tests.integration.telemetry.conftest import telemetry_settings, wait_subscribed
from tests.mosquitto import Mosquitto
from tests.telemetry_support import NORMAL, Publisher, make_patient, provision, vitals, wait_for

DEVICES = [f"part-mon-{n}" for n in range(6)]
PER_DEVICE = 20


def _settings(database_url: str, tmp_path: Path, port: int, index: int) -> Settings:
    base = telemetry_settings(database_url, tmp_path, port, shared=False)
    mqtt = base.mqtt.model_copy(update={"partition_count": 2, "partition_index": index})
    return base.model_copy(update={"mqtt": mqtt})


@pytest.fixture
async def pair(
    database_url: str, tmp_path: Path, broker: Mosquitto
) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    async with contextlib.AsyncExitStack() as stack:
        apps = []
        for index in (0, 1):
            app = create_app(_settings(database_url, tmp_path / f"p{index}", broker.port, index))
            await stack.enter_async_context(
                LifespanManager(app, startup_timeout=60, shutdown_timeout=60)
            )
            await wait_subscribed(app)
            apps.append(app)
        yield apps[0], apps[1]


async def test_each_reading_is_stored_once_by_its_devices_partition(
    pair: tuple[FastAPI, FastAPI], broker: Mosquitto
) -> None:
    first, second = pair
    assert {partition_of(d, 2) for d in DEVICES} == {0, 1}
    transport = httpx.ASGITransport(app=first)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = await auth_headers(first, client, Role.ADMIN)
        keys = {}
        for device in DEVICES:
            patient = await make_patient(client, headers)
            keys[device] = (await provision(client, headers, device, patient_id=patient))[0]
    publisher = Publisher(broker.port, client_id="partition-test-publisher")
    try:
        infos = [
            publisher.sealed(device, keys[device], counter=n, plaintext=vitals(**NORMAL))
            for n in range(1, PER_DEVICE + 1)
            for device in DEVICES
        ]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        publisher.close()
    engine = first.state.runtime.engine

    async def all_stored() -> bool:
        async with engine.connect() as conn:
            count = await conn.scalar(text("SELECT count(*) FROM telemetry_readings"))
        return bool(count == len(DEVICES) * PER_DEVICE)

    await wait_for(all_stored, what="every reading stored")
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT device_id, count(*), count(DISTINCT counter) "
                "FROM telemetry_readings GROUP BY device_id"
            )
        )
        per_device = {d: (int(n), int(distinct)) for d, n, distinct in rows}
    assert per_device == dict.fromkeys(DEVICES, (PER_DEVICE, PER_DEVICE))
    # Each app stored exactly its partition's readings and left the rest to the other. The
    # counters move after a batch's alerts and events (the rows are visible a moment earlier),
    # so wait for them to settle rather than read them the instant the last row lands.
    for index, app in enumerate((first, second)):
        sample = app.state.runtime.metrics.registry.get_sample_value
        mine = sum(PER_DEVICE for d in DEVICES if partition_of(d, 2) == index)
        others = len(DEVICES) * PER_DEVICE - mine

        async def counted(sample: Callable[[str], float | None] = sample, mine: int = mine) -> bool:
            return sample("emsync_telemetry_readings_accepted_total") == mine

        await wait_for(counted, what=f"app {index} to count {mine} accepted readings")
        assert sample("emsync_telemetry_readings_accepted_total") == mine
        assert sample("emsync_telemetry_other_partition_total") == others
