"""Devices, keys, pipeline rules and alerts through the API and the pipeline (no broker)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.notifications.worker import NotificationWorker
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.envelope import ReplayGuard
from emsync.telemetry.models import Device, StoredReading
from emsync.telemetry.pipeline import Inbound, Pipeline
from emsync.telemetry.watch import AlertWatch
from tests.builders import auth_headers
from tests.telemetry_support import NORMAL, SICK, make_patient, provision, vitals


def inbound(
    device_id: str,
    key: bytes,
    *,
    counter: int,
    plaintext: bytes,
    key_id: int = 1,
    algorithm: Algorithm = Algorithm.ASCON_AEAD128,
) -> Inbound:
    topic = envelope.topic_for(device_id, "vitals")
    payload = envelope.seal(
        topic=topic,
        algorithm=algorithm,
        key=key,
        key_id=key_id,
        counter=counter,
        plaintext=plaintext,
    )
    return Inbound(topic, payload, time.monotonic())


def pipeline_of(app: FastAPI) -> Pipeline:
    runtime: Runtime = app.state.runtime
    return runtime.get(Pipeline)


async def test_device_crud_and_key_shown_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    created = await client.post(
        "/api/telemetry/devices",
        json={"id": "amb-7", "type": "ambulance_monitor", "algorithm": "aes-256-gcm"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert len(bytes.fromhex(created.json()["key"]["key_hex"])) == 32
    again = await client.post(
        "/api/telemetry/devices", json={"id": "amb-7", "type": "monitor"}, headers=admin
    )
    assert again.status_code == 409
    read = await client.get("/api/telemetry/devices/amb-7", headers=admin)
    assert "key_hex" not in read.text
    bad = await client.post(
        "/api/telemetry/devices", json={"id": "bad/id", "type": "monitor"}, headers=admin
    )
    assert bad.status_code == 422
    assert (
        await client.post(
            "/api/telemetry/devices/amb-7/bind", json={"patient_id": "nope"}, headers=admin
        )
    ).status_code == 404
    patched = await client.patch(
        "/api/telemetry/devices/amb-7", json={"label": "Unit 7 monitor"}, headers=admin
    )
    assert patched.json()["label"] == "Unit 7 monitor"
    listed = await client.get("/api/telemetry/devices", headers=admin)
    assert listed.json()["total"] == 1
    assert (await client.delete("/api/telemetry/devices/amb-7", headers=admin)).status_code == 204
    assert (await client.get("/api/telemetry/devices/amb-7", headers=admin)).status_code == 404


async def test_dispatcher_cannot_register_devices(app: FastAPI, client: httpx.AsyncClient) -> None:
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    response = await client.post(
        "/api/telemetry/devices", json={"id": "x1", "type": "monitor"}, headers=dispatcher
    )
    assert response.status_code == 403


async def test_rotation_grace_then_refusal_and_revocation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    old_key, _, _ = await provision(client, admin, "mon-r", patient_id=patient)
    rotated = await client.post(
        "/api/telemetry/devices/mon-r/keys/rotate", json={"grace_seconds": 3600}, headers=admin
    )
    assert rotated.status_code == 201, rotated.text
    new_key = bytes.fromhex(rotated.json()["key_hex"])
    assert rotated.json()["key_id"] == 2
    pipeline = pipeline_of(app)
    outcome = await pipeline.handle(
        [
            inbound("mon-r", old_key, counter=1, plaintext=vitals(hr=70)),  # within grace
            inbound("mon-r", new_key, key_id=2, counter=1, plaintext=vitals(hr=71)),
            inbound("mon-r", old_key, key_id=2, counter=2, plaintext=vitals(hr=72)),  # wrong key
        ]
    )
    assert outcome.accepted == 2
    assert outcome.rejected == {"bad_tag": 1}

    rotated = await client.post(
        "/api/telemetry/devices/mon-r/keys/rotate", json={"grace_seconds": 0}, headers=admin
    )
    outcome = await pipeline.handle(
        [inbound("mon-r", new_key, key_id=2, counter=5, plaintext=vitals(hr=73))]
    )
    assert outcome.rejected == {"key_expired": 1}

    revoked = await client.post("/api/telemetry/devices/mon-r/revoke", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["patient_id"] is None
    newest = bytes.fromhex(rotated.json()["key_hex"])
    outcome = await pipeline.handle(
        [inbound("mon-r", newest, key_id=3, counter=1, plaintext=vitals(hr=74))]
    )
    assert outcome.rejected == {"revoked_device": 1}


async def test_bad_messages_are_counted_and_good_ones_still_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-b", patient_id=patient)
    good = inbound("mon-b", key, counter=10, plaintext=vitals(hr=80, spo2=150))
    outcome = await pipeline_of(app).handle(
        [
            Inbound("emsync/v1/devices/mon-b/vitals", b"\x01garbage", time.monotonic()),
            Inbound("not/a/topic", b"x", time.monotonic()),
            inbound("ghost", key, counter=1, plaintext=vitals(hr=80)),
            inbound("mon-b", key, counter=3, plaintext=b"{not json"),
            good,
            inbound("mon-b", key, counter=10, plaintext=vitals(hr=81)),  # replayed (10 taken)
            inbound("mon-b", key, counter=11, plaintext=vitals(hr=82)),
        ]
    )
    assert outcome.accepted == 2
    assert outcome.rejected == {
        "unknown_algorithm": 1,
        "bad_topic": 1,
        "unknown_device": 1,
        "bad_json": 1,
        "replayed": 1,
    }
    # The redelivered copy of a stored message is refused as a replay, never stored twice.
    assert (await pipeline_of(app).handle([good])).rejected == {"replayed": 1}
    metrics = (await client.get("/metrics")).text
    assert (
        'emsync_telemetry_fields_rejected_total{field="spo2",problem="out_of_range"} 1.0' in metrics
    )
    assert 'emsync_telemetry_messages_rejected_total{reason="replayed"} 2.0' in metrics
    history = await client.get(
        f"/api/telemetry/patients/{patient}/vitals",
        params={
            "start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "end": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "points": 10,
        },
        headers=admin,
    )
    assert history.status_code == 200, history.text
    assert "spo2" not in history.json()["series"]
    assert sum(p["n"] for p in history.json()["series"]["hr"]) == 2


async def test_news2_alert_lifecycle_escalation_and_stale_data(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    clinician = await auth_headers(app, client, Role.CLINICIAN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-a", patient_id=patient)
    pipeline = pipeline_of(app)
    await pipeline.handle([inbound("mon-a", key, counter=1, plaintext=vitals(**SICK))])
    await pipeline.handle([inbound("mon-a", key, counter=2, plaintext=vitals(**SICK))])
    alerts = (await client.get("/api/telemetry/alerts", headers=clinician)).json()
    assert alerts["total"] == 1  # one open alert per patient and kind, however many readings
    alert = alerts["items"][0]
    assert (alert["level"], alert["status"], alert["news2"]) == ("high", "raised", 17)

    runtime: Runtime = app.state.runtime
    watch = AlertWatch(runtime, pipeline._metrics)
    later = datetime.now(UTC) + timedelta(hours=1)
    runtime.clock = lambda: later
    await watch.tick()
    # Escalation is the notifications policy's (the default: the role chain, clinician first).
    await runtime.get(NotificationWorker).escalate_once()
    escalated = (await client.get("/api/telemetry/alerts", headers=clinician)).json()["items"]
    news = next(a for a in escalated if a["kind"] == "news2")
    assert (news["escalation_step"], news["escalated_to"]) == (1, "clinician")
    assert any(a["kind"] == "stale" for a in escalated)

    acked = await client.post(f"/api/telemetry/alerts/{alert['id']}/ack", headers=clinician)
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    again = await client.post(f"/api/telemetry/alerts/{alert['id']}/ack", headers=clinician)
    assert again.status_code == 409
    resolved = await client.post(f"/api/telemetry/alerts/{alert['id']}/resolve", headers=clinician)
    assert resolved.json()["status"] == "resolved"

    async with runtime.sessions() as session:
        device = await session.scalar(select(Device).where(Device.id == "mon-a"))
        assert device is not None
        assert device.last_seen_at is not None
    audit = await client.get("/api/audit", headers=admin)
    assert audit.status_code == 200
    assert "telemetry.alert_changed:raised" in audit.text
    assert "telemetry.alert_changed:escalated" in audit.text
    runtime.clock = lambda: datetime.now(UTC)
    await pipeline.handle([inbound("mon-a", key, counter=3, plaintext=vitals(**NORMAL))])


async def test_pipeline_rows_are_stored_as_the_orm_stores_them_and_exactly_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-s", patient_id=patient)
    pipeline = pipeline_of(app)
    # A whole second in another zone: the stored text must not follow its isoformat().
    when = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    message = inbound("mon-s", key, counter=7, plaintext=vitals(when, **NORMAL))
    assert (await pipeline.handle([message])).accepted == 1

    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        stored = await session.scalar(select(StoredReading))
        assert stored is not None
        assert stored.ts == when
        session.add(
            StoredReading(
                device_id="orm-row",
                key_id=1,
                counter=0,
                idx=0,
                kind="vitals",
                patient_id=patient,
                ts=when,
                received_at=stored.received_at,
                sealed=b"x",
            )
        )
        await session.commit()
    async with runtime.engine.connect() as conn:
        raw = (
            await conn.exec_driver_sql(
                "SELECT device_id, ts, received_at FROM telemetry_readings ORDER BY device_id"
            )
        ).all()
    assert [r[0] for r in raw] == ["mon-s", "orm-row"]
    assert raw[0][1:] == raw[1][1:]

    # A redelivery that the replay guard no longer remembers is skipped by the unique key.
    pipeline.guard = ReplayGuard()
    again = await pipeline.handle([message])
    assert (again.accepted, again.duplicates) == (0, 1)


async def test_a_batch_prepared_before_the_last_one_is_stored_sees_its_counters(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # The ingest prepares the next batch while the last one is being stored: a message that
    # repeats a counter of the uncommitted batch is still a replay, a newer one is not.
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-q", patient_id=patient)
    pipeline = pipeline_of(app)

    def msg(counter: int) -> Inbound:
        return inbound("mon-q", key, counter=counter, plaintext=vitals(**NORMAL))

    first = await pipeline.prepare([msg(10), msg(11)])
    second = await pipeline.prepare([msg(11), msg(12)])
    assert second.outcome.rejected == {"replayed": 1}
    assert (await pipeline.commit(first)).accepted == 2
    assert (await pipeline.commit(second)).accepted == 1
    assert (await pipeline.handle([msg(12)])).rejected == {"replayed": 1}
    assert (await pipeline.handle([msg(13)])).accepted == 1


async def test_a_batch_of_hundreds_is_stored_once_across_statements(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # 700 readings from three devices: SQLite stores them in several multi-row statements
    # (512 + 128 + 32 + 16 + 8 + 4), one already stored; every device is marked seen.
    admin = await auth_headers(app, client, Role.ADMIN)
    patient = await make_patient(client, admin)
    devices = ["mon-x", "mon-y", "mon-z"]
    keys = {d: (await provision(client, admin, d, patient_id=patient))[0] for d in devices}
    pipeline = pipeline_of(app)
    messages = []
    for i in range(700):
        device = devices[i % 3]
        messages.append(inbound(device, keys[device], counter=100 + i, plaintext=vitals(**NORMAL)))
    assert (await pipeline.handle(messages[:1])).accepted == 1
    pipeline.guard = ReplayGuard()  # so the first message reaches storage again
    outcome = await pipeline.handle(messages)
    assert (outcome.accepted, outcome.duplicates) == (699, 1)
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        assert len((await session.scalars(select(StoredReading.id))).all()) == 700
        seen = await session.scalars(select(Device.last_seen_at).where(Device.id.in_(devices)))
        assert [s is not None for s in seen] == [True, True, True]
