"""Device → sealed MQTT (real Mosquitto) → ingest → encrypted storage → API and WebSocket hub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from emsync.auth.permissions import Role
from emsync.auth.principal import Principal
from emsync.core.realtime import Hub, Subscriber
from emsync.core.runtime import Runtime
from emsync.telemetry.models import StoredReading
from tests.builders import auth_headers
from tests.mosquitto import Mosquitto
from tests.telemetry_support import NORMAL, Publisher, make_patient, provision, vitals, wait_for


async def stored_count(app: FastAPI) -> int:
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(StoredReading)) or 0)


async def test_sealed_readings_are_stored_encrypted_and_served(
    tele_app: FastAPI, tele_client: httpx.AsyncClient, broker: Mosquitto, database_url: str
) -> None:
    admin = await auth_headers(tele_app, tele_client, Role.ADMIN)
    patient = await make_patient(tele_client, admin)
    key, key_id, alg = await provision(tele_client, admin, "mon-1", patient_id=patient)
    hub = tele_app.state.runtime.get(Hub)
    watcher = Subscriber(principal=Principal(id="c", name="c", role=Role.CLINICIAN, kind="user"))
    assert await hub.subscribe(watcher, f"vitals:{patient}") is None

    t0 = datetime.now(UTC) - timedelta(seconds=30)
    pub = Publisher(broker.port)
    try:
        pub.sealed(
            "mon-1",
            key,
            key_id=key_id,
            algorithm=alg,
            counter=1,
            plaintext=vitals(t0, hr=137.25, spo2=93.5, rr=22, sbp=101, dbp=63, temp=38.65),
        )
        batch = (
            b'{"readings": ['
            + vitals(t0 + timedelta(seconds=1), **NORMAL)
            + b", "
            + vitals(t0 + timedelta(seconds=2), hr=80, spo2=96)
            + b"]}"
        )
        pub.sealed("mon-1", key, key_id=key_id, algorithm=alg, counter=2, plaintext=batch)
        await wait_for(lambda: _has(tele_app, 3), what="three stored readings")
        # Each stored batch's write is timed (bench/ingest.py splits the latency with it).
        sample = tele_app.state.runtime.metrics.registry.get_sample_value
        assert (sample("emsync_telemetry_store_seconds_count") or 0) >= 1
    finally:
        pub.close()

    latest = await tele_client.get(
        f"/api/telemetry/patients/{patient}/vitals/latest", headers=admin
    )
    assert latest.status_code == 200, latest.text
    values = latest.json()["values"]
    assert values["hr"]["value"] == 80
    assert values["temp"]["value"] == 36.8
    assert latest.json()["news2"]["total"] >= 0

    history = await tele_client.get(
        f"/api/telemetry/patients/{patient}/vitals",
        params={
            "start": (t0 - timedelta(minutes=1)).isoformat(),
            "end": datetime.now(UTC).isoformat(),
        },
        headers=admin,
    )
    assert history.status_code == 200, history.text
    assert [r["hr"] for r in history.json()["items"]] == [137.25, 72, 80]

    # The push follows the batch's commit and its alert transaction: under load it can come
    # after the reads above, so wait for it rather than drain once.
    pushed: list[dict[str, Any]] = []

    async def three_pushed() -> bool:
        while not watcher.queue.empty():
            message = watcher.queue.get_nowait()
            if message["type"] == "vitals":  # the channel also carries window artefact flags
                pushed.extend(message["data"]["readings"])
        return len(pushed) >= 3

    await wait_for(three_pushed, what="three pushed readings")
    assert sorted(r["hr"] for r in pushed) == [72, 80, 137.25]

    await _assert_no_plaintext_at_rest(tele_app, database_url)


async def _has(app: FastAPI, n: int) -> bool:
    return await stored_count(app) >= n


SECRETS = (b"137.25", b"93.5", b"38.65", b'"hr"', b'"spo2"', b'"temp"')


async def _assert_no_plaintext_at_rest(app: FastAPI, database_url: str) -> None:
    runtime: Runtime = app.state.runtime
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        await runtime.engine.dispose()  # checkpoint nothing away: read file and WAL as they are
        raw = b"".join(
            p.read_bytes()
            for p in Path(url.database or "").parent.glob("emsync.db*")
            if p.is_file()
        )
        assert raw, "no database file found"
        for secret in SECRETS:
            assert secret not in raw, f"{secret!r} found in the SQLite file"
        return
    conn = await asyncpg.connect(
        f"postgresql://{url.username}@{url.host}:{url.port}/{url.database}"
    )
    try:
        rows = await conn.fetch("SELECT * FROM telemetry_readings")
        assert len(rows) == 3
        dump = b"".join(
            v if isinstance(v, bytes) else str(v).encode() for row in rows for v in row.values()
        )
        for secret in SECRETS:
            assert secret not in dump, f"{secret!r} found in PostgreSQL rows"
    finally:
        await conn.close()


async def test_an_ambulance_gps_fix_moves_the_unit_that_carries_the_tracker(
    tele_app: FastAPI, tele_client: httpx.AsyncClient, broker: Mosquitto
) -> None:
    admin = await auth_headers(tele_app, tele_client, Role.ADMIN)
    key, key_id, alg = await provision(tele_client, admin, "gps-7", patient_id=None)
    unit = await tele_client.post(
        "/api/units",
        json={
            "call_sign": "A-7",
            "unit_type": "ALS",
            "station_lat": 60.16,
            "station_lon": 24.93,
            "device_id": "gps-7",
        },
        headers=admin,
    )
    assert unit.status_code == 201, unit.text
    fix_at = datetime.now(UTC) - timedelta(seconds=5)
    older = fix_at - timedelta(seconds=30)
    position = (
        b'{"readings": ['
        + f'{{"ts": "{older.isoformat()}", "lat": 60.1701, "lon": 24.9301}}, '.encode()
        + f'{{"ts": "{fix_at.isoformat()}", "lat": 60.1712, "lon": 24.9412, "speed": 9.5}}'.encode()
        + b"]}"
    )
    pub = Publisher(broker.port)
    try:
        pub.sealed(
            "gps-7",
            key,
            key_id=key_id,
            algorithm=alg,
            counter=1,
            plaintext=position,
            kind="position",
        )

        async def moved() -> bool:
            got = await tele_client.get(f"/api/units/{unit.json()['id']}", headers=admin)
            return bool(got.json().get("lat") == 60.1712)

        await wait_for(moved, what="the unit to move to the newest fix")
    finally:
        pub.close()
    final = (await tele_client.get(f"/api/units/{unit.json()['id']}", headers=admin)).json()
    assert (final["lat"], final["lon"]) == (60.1712, 24.9412)
    runtime: Runtime = tele_app.state.runtime
    assert runtime.bus.dead_letters == []
