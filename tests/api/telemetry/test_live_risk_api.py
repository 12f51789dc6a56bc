"""The shipped deterioration model runs on live readings: the monitor's latest view shows the
risk beside NEWS2, and a score over the threshold raises a `deterioration` alert through the
alert path (through the pipeline, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.bootstrap import create_app
from emsync.core.realtime import Hub, Subscriber
from emsync.telemetry.live_risk import RiskWatch
from tests.api.telemetry.test_telemetry_api import inbound, pipeline_of
from tests.builders import auth_headers
from tests.conftest import make_settings
from tests.telemetry_support import NORMAL, SICK, make_patient, provision, vitals


@pytest.fixture
async def risk_app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url,
        tmp_path,
        telemetry={
            "risk_interval_seconds": 0,
            "risk_alert_threshold": 0.05,
            "risk_alert_high": 0.9,
        },
    )
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def risk_client(risk_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=risk_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_live_risk_beside_news2_and_its_alert(
    risk_app: FastAPI, risk_client: httpx.AsyncClient
) -> None:
    client = risk_client
    admin = await auth_headers(risk_app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-risk", patient_id=patient)
    watcher = Subscriber(principal=Principal("n", "n", Role.CLINICIAN, "user"))
    hub = risk_app.state.runtime.get(Hub)
    pipeline = pipeline_of(risk_app)
    start = datetime.now(UTC) - timedelta(hours=2)
    # Two hours, every 10 minutes: well, then septic from the second hour.
    for counter, minutes in enumerate(range(0, 120, 10), start=1):
        values = NORMAL if minutes < 60 else SICK
        reading = vitals(start + timedelta(minutes=minutes), **values)
        await pipeline.handle([inbound("mon-risk", key, counter=counter, plaintext=reading)])
        if counter == 1:
            assert await hub.subscribe(watcher, f"vitals:{patient}") is None
    # Scores are made in the watch's own task, off the ingest path: wait for the last one.
    await risk_app.state.runtime.get(RiskWatch).settled()

    latest = await client.get(f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin)
    assert latest.status_code == 200, latest.text
    body = latest.json()
    assert body["news2"] is not None
    risk = body["risk"]
    assert 0.05 <= risk["probability"] < 1
    assert risk["trend"] in {"rising", "steady"}
    assert risk["previous"] is not None
    assert risk["model_version"].startswith("deterioration-")

    pushed = []
    while not watcher.queue.empty():
        pushed.append(watcher.queue.get_nowait())
    risks = [m for m in pushed if m["type"] == "risk"]
    assert risks
    assert risks[-1]["data"]["probability"] == risk["probability"]

    alerts = (await client.get("/api/telemetry/alerts", headers=admin)).json()["items"]
    mine = [(a["kind"], a["level"]) for a in alerts if a["patient_id"] == patient]
    assert ("deterioration", "medium") in mine
    (alert,) = [a for a in alerts if a["kind"] == "deterioration" and a["patient_id"] == patient]
    assert alert["news2"] is None  # a risk is never shown as a NEWS2 total
    assert 0.05 <= alert["risk"] < 1
    assert any(kind == "news2" for kind, _ in mine)  # NEWS2 keeps its own alert


async def test_the_risk_threshold_is_configurable_a_score_under_it_raises_no_alert(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        telemetry={
            "risk_interval_seconds": 0,
            "risk_alert_threshold": 0.98,
            "risk_alert_high": 0.99,
        },
    )
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            admin = await auth_headers(application, client, Role.ADMIN)
            patient = await make_patient(client, admin)
            key, _, _ = await provision(client, admin, "mon-risk-2", patient_id=patient)
            pipeline = pipeline_of(application)
            start = datetime.now(UTC) - timedelta(hours=2)
            for counter, minutes in enumerate(range(0, 120, 10), start=1):
                values = NORMAL if minutes < 60 else SICK
                reading = vitals(start + timedelta(minutes=minutes), **values)
                await pipeline.handle(
                    [inbound("mon-risk-2", key, counter=counter, plaintext=reading)]
                )
            await application.state.runtime.get(RiskWatch).settled()
            latest = await client.get(
                f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin
            )
            risk = latest.json()["risk"]
            # The same stream as above scores over 0.05 but under this deployment's 0.98.
            assert 0.05 <= risk["probability"] < 0.98
            alerts = (await client.get("/api/telemetry/alerts", headers=admin)).json()["items"]
            kinds = {a["kind"] for a in alerts if a["patient_id"] == patient}
            assert "deterioration" not in kinds
            assert "news2" in kinds
