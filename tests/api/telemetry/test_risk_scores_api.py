"""The live deterioration risk kept at rest: scored readings leave sealed score rows, the latest
view and the history read them back (also in a process that did not score: after a restart, or
a separate API), the trend carries on across a restart, retention removes old scores, and a
rejected reading leaves none (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.background import ProcessRole
from emsync.core.runtime import Runtime
from emsync.telemetry.live_risk import RiskWatch
from emsync.telemetry.maintenance import ReadingMaintenance
from emsync.telemetry.models import StoredRiskScore
from emsync.telemetry.risk_scores import RiskRecorder
from emsync.telemetry.schemas import RiskRead
from tests.api.telemetry.test_telemetry_api import inbound, pipeline_of
from tests.builders import auth_headers
from tests.conftest import make_settings
from tests.telemetry_support import NORMAL, SICK, make_patient, provision, vitals

RISK_SETTINGS = {"risk_interval_seconds": 0, "risk_alert_threshold": 0.05, "risk_alert_high": 0.9}


@asynccontextmanager
async def running(
    database_url: str,
    tmp_path: Path,
    roles: tuple[ProcessRole, ...] = tuple(ProcessRole),
    **telemetry: object,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app on `database_url` whose recorder only stores when the test flushes (or at stop)."""
    settings = make_settings(
        database_url,
        tmp_path,
        telemetry={**RISK_SETTINGS, "risk_flush_seconds": 3600, **telemetry},
    )
    application = create_app(settings, roles=roles)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield application, c


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def stored_scores(app: FastAPI) -> int:
    async with runtime_of(app).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(StoredRiskScore)) or 0)


async def feed(app: FastAPI, device: str, key: bytes, start: datetime, minutes: range) -> None:
    """One reading every step of `minutes` after `start`: well the first hour, septic after."""
    pipeline = pipeline_of(app)
    for minute in minutes:
        values = NORMAL if minute < 60 else SICK
        reading = vitals(start + timedelta(minutes=minute), **values)
        counter = minute + 1  # strictly increasing per device, across restarts too
        outcome = await pipeline.handle([inbound(device, key, counter=counter, plaintext=reading)])
        assert outcome.accepted == 1, outcome
    await runtime_of(app).get(RiskWatch).settled()  # scored in its own task, off the ingest path


async def test_scores_are_stored_sealed_and_the_history_returns_them(
    database_url: str, tmp_path: Path
) -> None:
    async with running(database_url, tmp_path) as (app, client):
        admin = await auth_headers(app, client, Role.ADMIN)
        patient = await make_patient(client, admin)
        key, _, _ = await provision(client, admin, "mon-rs-1", patient_id=patient)
        start = datetime.now(UTC) - timedelta(hours=2)
        await feed(app, "mon-rs-1", key, start, range(0, 120, 10))
        recorder = runtime_of(app).get(RiskRecorder)
        assert recorder.pending == 12  # scored as stored, written only on the recorder's round
        assert await stored_scores(app) == 0
        assert await recorder.flush() == 12
        assert recorder.pending == 0

        async with runtime_of(app).sessions() as session:
            row = (await session.execute(select(StoredRiskScore).limit(1))).scalar_one()
        assert b"probability" not in row.sealed  # the score is sealed at rest
        assert row.patient_id == patient

        history = await client.get(
            f"/api/telemetry/patients/{patient}/vitals",
            params={"start": start.isoformat(), "end": datetime.now(UTC).isoformat()},
            headers=admin,
        )
        assert history.status_code == 200, history.text
        risk = [RiskRead.model_validate(r) for r in history.json()["risk"]]
        assert [r.ts for r in risk] == [start + timedelta(minutes=m) for m in range(0, 120, 10)]
        assert risk[0].trend == "new"
        assert risk[-1].probability > risk[0].probability  # the septic hour scores higher
        latest = runtime_of(app).get(RiskWatch).latest(patient)
        assert latest is not None
        assert risk[-1] == RiskRead.model_validate(latest.as_message())  # as it was pushed

        charted = await client.get(
            f"/api/telemetry/patients/{patient}/vitals",
            params={
                "start": start.isoformat(),
                "end": datetime.now(UTC).isoformat(),
                "points": 5,
            },
            headers=admin,
        )
        thinned = charted.json()["risk"]
        assert len(thinned) == 5
        assert thinned[-1] == history.json()["risk"][-1]  # the newest score is always shown


async def test_the_trend_survives_a_restart(database_url: str, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    async with running(database_url, tmp_path) as (app, client):
        admin = await auth_headers(app, client, Role.ADMIN)
        patient = await make_patient(client, admin)
        key, _, _ = await provision(client, admin, "mon-rs-2", patient_id=patient)
        await feed(app, "mon-rs-2", key, start, range(0, 100, 10))
        before = runtime_of(app).get(RiskWatch).latest(patient)
        assert before is not None
        # No flush by the test: stopping the process stores what it scored.

    async with running(database_url, tmp_path) as (app, client):
        admin = await auth_headers(app, client, Role.ADMIN)
        assert runtime_of(app).get(RiskWatch).latest(patient) is None  # nothing in memory
        latest = await client.get(f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin)
        assert latest.status_code == 200, latest.text
        risk = RiskRead.model_validate(latest.json()["risk"])
        assert risk == RiskRead.model_validate(before.as_message())
        assert risk.trend != "new"
        assert risk.previous is not None

        # The next score, the first of this process, is judged against the stored ones.
        await feed(app, "mon-rs-2", key, start, range(100, 120, 10))
        after = runtime_of(app).get(RiskWatch).latest(patient)
        assert after is not None
        assert after.trend != "new"
        assert after.previous is not None


async def test_a_separate_api_process_serves_the_stored_risk(
    database_url: str, tmp_path: Path
) -> None:
    """The scale profile: ingest and worker score in one process, the API runs in another."""
    scoring = (ProcessRole.INGEST, ProcessRole.WORKER)
    async with (
        running(database_url, tmp_path / "scorer", roles=scoring) as (scorer, _),
        running(database_url, tmp_path / "api", roles=(ProcessRole.API,)) as (api, client),
    ):
        admin = await auth_headers(api, client, Role.ADMIN)
        patient = await make_patient(client, admin)
        key, _, _ = await provision(client, admin, "mon-rs-4", patient_id=patient)
        start = datetime.now(UTC) - timedelta(hours=2)
        await feed(scorer, "mon-rs-4", key, start, range(0, 60, 10))
        url = f"/api/telemetry/patients/{patient}/vitals/latest"
        assert (await client.get(url, headers=admin)).json()["risk"] is None  # not yet stored
        await runtime_of(scorer).get(RiskRecorder).flush()
        served = (await client.get(url, headers=admin)).json()["risk"]
        scored = runtime_of(scorer).get(RiskWatch).latest(patient)
        assert scored is not None
        assert RiskRead.model_validate(served) == RiskRead.model_validate(scored.as_message())


async def test_retention_removes_old_scores_only(database_url: str, tmp_path: Path) -> None:
    async with running(database_url, tmp_path, retention_days=30) as (app, _):
        runtime = runtime_of(app)
        recorder = runtime.get(RiskRecorder)
        now = runtime.clock()
        for days, patient in ((40, "p-old"), (31, "p-old"), (29, "p-young"), (0, "p-young")):
            recorder.record(
                RiskRead(
                    patient_id=patient,
                    ts=now - timedelta(days=days),
                    probability=0.2,
                    previous=None,
                    trend="new",
                    hours_observed=1.0,
                    model_version="deterioration-test",
                )
            )
        await runtime_of(app).get(RiskWatch).settled()  # scored off the ingest path
        assert await recorder.flush() == 4
        # The worker's start-up round may run meanwhile: what counts is what is left.
        await runtime.get(ReadingMaintenance).tick()
        async with runtime.sessions() as session:
            left = (await session.scalars(select(StoredRiskScore.patient_id))).all()
        assert sorted(left) == ["p-young", "p-young"]


async def test_a_rejected_reading_leaves_no_score(database_url: str, tmp_path: Path) -> None:
    async with running(database_url, tmp_path) as (app, client):
        admin = await auth_headers(app, client, Role.ADMIN)
        patient = await make_patient(client, admin)
        key, _, _ = await provision(client, admin, "mon-rs-3", patient_id=patient)
        pipeline = pipeline_of(app)
        future = vitals(datetime.now(UTC) + timedelta(days=1), **SICK)  # a wrong device clock
        refused = await pipeline.handle([inbound("mon-rs-3", key, counter=1, plaintext=future)])
        assert refused.accepted == 0
        assert refused.rejected
        forged = inbound("mon-rs-3", b"\x00" * 16, counter=2, plaintext=vitals(**SICK))
        assert (await pipeline.handle([forged])).accepted == 0
        await runtime_of(app).get(RiskWatch).settled()  # scored off the ingest path
        await runtime_of(app).get(RiskRecorder).flush()
        assert await stored_scores(app) == 0
        assert runtime_of(app).get(RiskWatch).latest(patient) is None
        latest = await client.get(f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin)
        assert latest.status_code == 404  # nothing stored for the patient at all
