"""The ingest on a thread of its own (telemetry.ingest_thread): readings are taken there and
reach storage and the WebSocket hub of the server's loop; a stored batch that raises an alert is
acknowledged only once the alert is written; the others' events follow in order."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.bootstrap import create_app
from emsync.core.loop_thread import LoopThread, OrderedHandoff
from emsync.core.realtime import Hub, Subscriber
from emsync.core.runtime import Runtime
from emsync.telemetry.ingest_thread import Announcer, threadable
from emsync.telemetry.models import Alert, StoredReading
from emsync.telemetry.pipeline import Pipeline
from tests.api.telemetry.test_telemetry_api import inbound
from tests.builders import auth_headers
from tests.conftest import make_settings
from tests.integration.telemetry.conftest import telemetry_settings, wait_subscribed
from tests.mosquitto import Mosquitto
from tests.telemetry_support import NORMAL, SICK, Publisher, make_patient, provision, vitals
from tests.telemetry_support import wait_for as wait_until


def _ingest_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "emsync-ingest"]


async def _stored(app: FastAPI) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(StoredReading)) or 0)


@pytest.mark.parametrize("own_thread", [True, False])
async def test_readings_are_taken_on_the_ingest_thread_and_pushed_from_the_servers_loop(
    database_url: str, tmp_path: Path, broker: Mosquitto, own_thread: bool
) -> None:
    settings = telemetry_settings(database_url, tmp_path, broker.port)
    settings.mqtt.ingest_thread = own_thread
    before = len(_ingest_threads())
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        await wait_subscribed(app)
        assert len(_ingest_threads()) == before + (1 if own_thread else 0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            admin = await auth_headers(app, client, Role.ADMIN)
            patient = await make_patient(client, admin)
            key, key_id, alg = await provision(client, admin, "mon-t", patient_id=patient)
        hub = app.state.runtime.get(Hub)
        watcher = Subscriber(
            principal=Principal(id="c", name="c", role=Role.CLINICIAN, kind="user")
        )
        assert await hub.subscribe(watcher, f"vitals:{patient}") is None
        t0 = datetime.now(UTC) - timedelta(seconds=30)
        pub = Publisher(broker.port)
        try:
            for n in range(1, 6):
                pub.sealed(
                    "mon-t",
                    key,
                    key_id=key_id,
                    algorithm=alg,
                    counter=n,
                    plaintext=vitals(t0 + timedelta(seconds=n), **{**NORMAL, "hr": 60 + n}),
                )
            pushed: list[dict[str, Any]] = []

            async def five_pushed() -> bool:
                while not watcher.queue.empty():
                    message = watcher.queue.get_nowait()
                    if message["type"] == "vitals":
                        pushed.extend(message["data"]["readings"])
                return len(pushed) >= 5

            await wait_until(five_pushed, what="five pushed readings")
        finally:
            pub.close()
        assert [r["hr"] for r in pushed] == [61, 62, 63, 64, 65]  # in the order published
        assert await _stored(app) == 5
    assert len(_ingest_threads()) == before  # ended with the app


def test_an_in_memory_database_keeps_the_ingest_on_the_servers_loop(tmp_path: Path) -> None:
    on_file = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}", tmp_path)
    assert not threadable(on_file)  # off by default (settings_telemetry says why)
    on_file.mqtt.ingest_thread = True
    assert threadable(on_file)
    for in_memory in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"):
        settings = make_settings(in_memory, tmp_path)
        settings.mqtt.ingest_thread = True
        assert not threadable(settings)


async def test_a_batch_that_raises_an_alert_is_announced_before_the_ingest_goes_on(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Announcer.announce runs on the ingest's thread; the alert is written on the server's
    # loop. When it returns for a batch that raises an alert, the alert is stored (the batch
    # may be acknowledged); the batches without one are announced after, in order.
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-a", patient_id=patient)
    runtime: Runtime = app.state.runtime
    pipeline = runtime.get(Pipeline)
    hub = runtime.get(Hub)
    watcher = Subscriber(principal=Principal(id="c", name="c", role=Role.CLINICIAN, kind="user"))
    assert await hub.subscribe(watcher, f"vitals:{patient}") is None
    t0 = datetime.now(UTC) - timedelta(seconds=30)

    async def stored_batch(counter: int, values: dict[str, Any]) -> Any:
        message = inbound(
            "mon-a",
            key,
            counter=counter,
            plaintext=vitals(t0 + timedelta(seconds=counter), **values),
        )
        prepared = await pipeline.prepare([message])
        await pipeline.store(prepared)
        return prepared

    calm = [await stored_batch(n, {**NORMAL, "hr": 70 + n}) for n in (1, 2)]
    sick = await stored_batch(3, SICK)
    assert not any(pipeline.raises_alerts(p) for p in calm)
    assert pipeline.raises_alerts(sick)

    handoff = OrderedHandoff(asyncio.get_running_loop())
    await handoff.start()
    announcer = Announcer(pipeline, handoff)
    thread = LoopThread("test-ingest")
    thread.start()
    try:

        async def on_the_ingest_thread() -> int:
            for prepared in (*calm, sick):
                await announcer.announce(prepared)
            # Returned: the sick batch's alert must be there now, with no wait.
            return await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(_alerts(runtime, patient), main)
            )

        main = asyncio.get_running_loop()
        assert await thread.run(on_the_ingest_thread()) == 1
    finally:
        await thread.stop()
        await handoff.stop()
    pushed: list[Any] = []
    while not watcher.queue.empty():
        message = watcher.queue.get_nowait()
        if message["type"] == "vitals":
            pushed.extend(r["hr"] for r in message["data"]["readings"])
    assert pushed == [71, 72, SICK["hr"]]


async def _alerts(runtime: Runtime, patient: str) -> int:
    async with runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Alert).where(Alert.patient_id == patient)
            )
            or 0
        )
