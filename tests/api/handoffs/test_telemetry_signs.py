"""ATMIST Signs from telemetry on SQLite and PostgreSQL: readings stored by the real ingest
pipeline fill a draft's signs, and follow a sent handoff to the hospital as vitals updates
(rounds of the worker's VitalsFollow, run here by hand; a background round in between appends
nothing these tests would not, so they assert what is stored, not who stored it)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.bootstrap import create_app
from emsync.core.runtime import Runtime
from emsync.core.settings import HandoffSettings, Settings
from emsync.core.uow import UnitOfWork
from emsync.handoffs import updates as handoff_updates
from emsync.handoffs.watch import VitalsFollow
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.pipeline import Inbound, Pipeline
from tests.builders import auth_headers, incident_body
from tests.handoff_builders import atmist, handoff_body
from tests.telemetry_support import provision, vitals

HOSPITAL = "hosp-north"


@dataclass
class Monitor:
    """A provisioned device bound to the incident's patient, sealing like a real one."""

    device_id: str
    key: bytes
    key_id: int
    algorithm: Algorithm
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Scene:
    crew: dict[str, str]
    nurse: dict[str, str]
    incident_id: str
    patient_id: str
    monitor: Monitor


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def _scene(app: FastAPI, client: httpx.AsyncClient) -> Scene:
    admin = await auth_headers(app, client, Role.ADMIN)
    crew = await auth_headers(app, client, Role.PARAMEDIC)
    nurse = await auth_headers(app, client, Role.CLINICIAN, hospital_id=HOSPITAL)
    body = incident_body(patients=[{"name": "Eero", "age_years": 64, "sex": "male"}])
    created = await client.post("/api/incidents", json=body, headers=crew)
    assert created.status_code == 201, created.text
    incident = created.json()
    patient_id = incident["patients"][0]["id"]
    key, key_id, algorithm = await provision(client, admin, "amb-mon-1", patient_id=patient_id)
    monitor = Monitor("amb-mon-1", key, key_id, algorithm)
    return Scene(crew, nurse, incident["id"], patient_id, monitor)


async def _ingest(app: FastAPI, monitor: Monitor, ts: datetime, **values: Any) -> None:
    """One sealed reading through the ingest pipeline (decrypt, validate, store, publish)."""
    topic = envelope.topic_for(monitor.device_id, "vitals")
    payload = envelope.seal(
        topic=topic,
        algorithm=monitor.algorithm,
        key=monitor.key,
        key_id=monitor.key_id,
        counter=next(monitor.counter),
        plaintext=vitals(ts, **values),
    )
    outcome = (
        await runtime_of(app).get(Pipeline).handle([Inbound(topic, payload, time.monotonic())])
    )
    assert outcome.accepted == 1


async def _bridge_draft(client: httpx.AsyncClient, scene: Scene) -> dict[str, Any]:
    body = {"incident_id": scene.incident_id, "unit_id": "MEDIC-7", "hospital_id": HOSPITAL}
    response = await client.post("/api/handoffs/draft", json=body, headers=scene.crew)
    assert response.status_code == 201, response.text
    draft: dict[str, Any] = response.json()
    return draft


def _at(sign: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(sign["ts"])


async def test_bridge_draft_gets_up_to_six_monitor_sets_from_the_last_half_hour(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    scene = await _scene(app, client)
    now = datetime.now(UTC)
    await _ingest(app, scene.monitor, now - timedelta(minutes=45), hr=60, spo2=99)  # too old
    # A deteriorating patient: twenty readings over the last 28.5 minutes.
    stamps = [now - timedelta(seconds=90 * k) for k in range(19, -1, -1)]
    for n, ts in enumerate(stamps):
        await _ingest(app, scene.monitor, ts, hr=90 + 2 * n, spo2=97, sbp=130 - 2 * n, dbp=80)
    draft = await _bridge_draft(client, scene)
    signs = draft["content"]["signs"]
    assert len(signs) == 6
    assert {s["source"] for s in signs} == {"telemetry"}
    assert [_at(s) for s in signs] == sorted(_at(s) for s in signs)
    assert _at(signs[0]) == stamps[0]  # the oldest in the window...
    assert _at(signs[-1]) == stamps[-1]  # ...and always the newest
    assert signs[-1]["hr"] == 90 + 2 * 19
    assert signs[-1]["sbp"] == 130 - 2 * 19
    assert draft["trends"]["hr"] == "rising"
    assert draft["trends"]["sbp"] == "falling"
    assert not any(p["field"] == "content.signs" for p in draft["problems"])
    assert runtime_of(app).bus.dead_letters == []


async def test_a_patient_without_telemetry_gets_an_empty_signs_list(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    scene = await _scene(app, client)
    draft = await _bridge_draft(client, scene)
    assert draft["content"]["signs"] == []
    assert any(p["field"] == "content.signs" for p in draft["problems"])


async def test_monitor_fields_a_handoff_cannot_hold_are_dropped_not_the_whole_set(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    scene = await _scene(app, client)
    now = datetime.now(UTC)
    # Plausible to telemetry, outside a handoff's ranges: hr > 300, rr > 80, temp < 25,
    # dbp above sbp. Only SpO2 and AVPU fit.
    await _ingest(
        app,
        scene.monitor,
        now - timedelta(minutes=2),
        hr=320,
        spo2=95,
        rr=90,
        sbp=80,
        dbp=85,
        temp=24.0,
        avpu="V",
    )
    await _ingest(app, scene.monitor, now - timedelta(minutes=1), hr=330)  # nothing fits
    await _ingest(app, scene.monitor, now, hr=118.6, sbp=92, dbp=61, temp=38.2, o2=True)
    # The ordinary create path, no signs given, the patient named: filled the same way.
    body = handoff_body(
        scene.incident_id, HOSPITAL, patient_id=scene.patient_id, content=atmist(signs=[])
    )
    created = await client.post("/api/handoffs", json=body, headers=scene.crew)
    assert created.status_code == 201, created.text
    signs = created.json()["content"]["signs"]
    assert [{k: v for k, v in s.items() if v is not None} for s in signs] == [
        {"ts": signs[0]["ts"], "spo2": 95, "avpu": "V", "source": "telemetry"},
        {
            "ts": signs[1]["ts"],
            "hr": 119,
            "sbp": 92,
            "dbp": 61,
            "temp": 38.2,
            "o2": True,
            "source": "telemetry",
        },
    ]
    assert [_at(s) for s in signs] == [now - timedelta(minutes=2), now]
    # Signs the crew gives are the draft's signs: nothing is added to them.
    given = handoff_body(scene.incident_id, HOSPITAL, patient_id=scene.patient_id)
    crew_draft = (await client.post("/api/handoffs", json=given, headers=scene.crew)).json()
    assert {s["source"] for s in crew_draft["content"]["signs"]} == {"crew"}
    assert len(crew_draft["content"]["signs"]) == len(atmist()["signs"])


async def test_a_lead_off_reaches_the_handoff_flagged_and_stays_out_of_its_news2(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    scene = await _scene(app, client)
    now = datetime.now(UTC)
    normal = {"hr": 72, "spo2": 97, "rr": 14, "sbp": 124, "dbp": 78, "temp": 36.8}
    await _ingest(app, scene.monitor, now - timedelta(minutes=1), **normal)
    await _ingest(app, scene.monitor, now, **{**normal, "hr": 0})  # a pulse is still measured
    body = handoff_body(
        scene.incident_id, HOSPITAL, patient_id=scene.patient_id, content=atmist(signs=[])
    )
    created = await client.post("/api/handoffs", json=body, headers=scene.crew)
    assert created.status_code == 201, created.text
    newest = created.json()["content"]["signs"][-1]
    assert (newest["hr"], newest["artefacts"]) == (0, [{"field": "hr", "kind": "lead_off"}])
    hid = created.json()["id"]
    assert (await client.post(f"/api/handoffs/{hid}/send", headers=scene.crew)).status_code == 200
    view = (await client.get(f"/api/handoffs/{hid}", headers=scene.nurse)).json()
    assert view["picture"]["latest_signs"]["artefacts"] == [{"field": "hr", "kind": "lead_off"}]
    score = view["picture"]["news2"]
    assert score["subscores"]["hr"] == 0  # the 72 of the minute before, not 0 (3 points)
    assert score["carried"] == ["hr"]
    bundle = (await client.get(f"/api/handoffs/{hid}/fhir", headers=scene.nurse)).json()
    noted = [
        (o["valueQuantity"]["value"], n["text"])
        for e in bundle["entry"]
        if (o := e["resource"])["resourceType"] == "Observation"
        for n in o.get("note", ())
        if n["text"].startswith("Probable monitor artefact")
    ]
    assert noted == [(0, "Probable monitor artefact (heart rate): ECG lead off")]


async def test_refreshing_a_draft_keeps_the_crews_signs_and_adds_only_new_readings(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    scene = await _scene(app, client)
    now = datetime.now(UTC)
    await _ingest(app, scene.monitor, now - timedelta(minutes=6), hr=100, spo2=94)
    first = await _bridge_draft(client, scene)
    [auto] = first["content"]["signs"]
    assert (auto["hr"], auto["source"]) == (100, "telemetry")
    # The crew corrects the monitor's set (probe on a cold finger) and adds its own.
    corrected = {**auto, "spo2": 97}
    own = {"ts": (now - timedelta(minutes=4)).isoformat(), "hr": 104, "rr": 20, "avpu": "A"}
    content = {**first["content"], "signs": [corrected, own]}
    edited = await client.patch(
        f"/api/handoffs/{first['id']}", json={"content": content}, headers=scene.crew
    )
    assert edited.status_code == 200, edited.text
    await _ingest(app, scene.monitor, now - timedelta(minutes=1), hr=112, spo2=93)
    # A late reading from before the newest set already filled in: history is not re-thinned.
    await _ingest(app, scene.monitor, now - timedelta(minutes=8), hr=98, spo2=95)
    refreshed = await _bridge_draft(client, scene)
    assert refreshed["id"] == first["id"]
    signs = refreshed["content"]["signs"]
    assert [(s["hr"], s["spo2"], s["source"]) for s in signs] == [
        (100, 97, "telemetry"),  # the crew's correction stands
        (104, None, "crew"),
        (112, 93, "telemetry"),
    ]
    again = await _bridge_draft(client, scene)  # nothing new: nothing doubled
    assert again["content"]["signs"] == signs


async def _sent(client: httpx.AsyncClient, scene: Scene) -> dict[str, Any]:
    body = handoff_body(scene.incident_id, HOSPITAL, patient_id=scene.patient_id)
    created = await client.post("/api/handoffs", json=body, headers=scene.crew)
    assert created.status_code == 201, created.text
    sent = await client.post(f"/api/handoffs/{created.json()['id']}/send", headers=scene.crew)
    assert sent.status_code == 200, sent.text
    handoff: dict[str, Any] = sent.json()
    return handoff


async def _telemetry_updates(
    client: httpx.AsyncClient, scene: Scene, handoff_id: str
) -> list[dict[str, Any]]:
    log = await client.get(f"/api/handoffs/{handoff_id}/updates", headers=scene.nurse)
    assert log.status_code == 200, log.text
    return [u for u in log.json() if u["kind"] == "vitals"]


async def test_en_route_handoff_gets_rate_limited_monitor_updates_the_hospital_sees(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime = runtime_of(app)
    scene = await _scene(app, client)
    handoff = await _sent(client, scene)
    hid = handoff["id"]
    before = (await client.get(f"/api/handoffs/{hid}", headers=scene.nurse)).json()
    assert before["trends"]["sbp"] == "falling"  # the crew's two sets: 98 then 86
    now = datetime.now(UTC)
    follow = runtime.get(VitalsFollow)
    await _ingest(app, scene.monitor, now, hr=130, sbp=104, dbp=62)
    await follow.check_once()
    # A 1 Hz monitor: the next reading, a second later, waits for the interval.
    await _ingest(app, scene.monitor, now + timedelta(seconds=1), hr=131, sbp=106, dbp=63)
    await follow.check_once()
    updates = await _telemetry_updates(client, scene, hid)
    assert [(u["actor"], u["data"]["vitals"]["hr"]) for u in updates] == [("system:telemetry", 130)]
    assert updates[0]["data"]["vitals"]["source"] == "telemetry"
    # On the hospital's feed, sealed for it and opened for its staff.
    feed = await client.get(
        "/api/handoffs/feed", params={"hospital_id": HOSPITAL}, headers=scene.nurse
    )
    assert feed.status_code == 200, feed.text
    pushed = [e for e in feed.json()["entries"] if e["update"] and e["update"]["kind"] == "vitals"]
    assert [e["update"]["data"]["vitals"]["sbp"] for e in pushed] == [104]
    # The interval has passed: the next reading follows.
    later = datetime.now(UTC) + timedelta(seconds=120)
    runtime.clock = lambda: later
    try:
        await _ingest(app, scene.monitor, now + timedelta(seconds=2), hr=136, sbp=124, dbp=70)
        await follow.check_once()
        updates = await _telemetry_updates(client, scene, hid)
        assert [u["data"]["vitals"]["hr"] for u in updates] == [130, 136]
        opened = (await client.get(f"/api/handoffs/{hid}", headers=scene.nurse)).json()
        assert opened["trends"]["sbp"] == "rising"  # 98 at first, 124 now
        # The FHIR export validates, and tells the monitor's observations from the crew's.
        exported = await client.get(f"/api/handoffs/{hid}/fhir", headers=scene.nurse)
        assert exported.status_code == 200, exported.text
        heart_rates = sorted(
            (
                e["resource"]["effectiveDateTime"],
                e["resource"]["valueQuantity"]["value"],
                "device" in e["resource"],
            )
            for e in exported.json()["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and e["resource"]["code"]["coding"][0]["code"] == "8867-4"
        )
        assert [(value, device) for _, value, device in heart_rates] == [
            (112, False),
            (124, False),
            (130, True),
            (136, True),
        ]
        # Stored updates are the rule, across processes: a newer reading within the interval
        # of the last update waits, even for a caller that kept no memory of it.
        async with runtime.sessions() as session:
            appended = await handoff_updates.append_telemetry_vitals(
                uow=UnitOfWork(session, runtime.bus),
                keyring=runtime.keyring,
                patient_id=scene.patient_id,
                readings=[(now + timedelta(seconds=3), {"hr": 140})],
                min_interval=timedelta(seconds=60),
                now=later + timedelta(seconds=30),
            )
        assert appended == 0
        # Offered the same or an older reading again, long after: never a second update.
        async with runtime.sessions() as session:
            appended = await handoff_updates.append_telemetry_vitals(
                uow=UnitOfWork(session, runtime.bus),
                keyring=runtime.keyring,
                patient_id=scene.patient_id,
                readings=[
                    (now + timedelta(seconds=1), {"hr": 131}),
                    (now + timedelta(seconds=2), {"hr": 136, "sbp": 124, "dbp": 70}),
                ],
                min_interval=timedelta(seconds=60),
                now=later + timedelta(minutes=10),
            )
        assert appended == 0
        assert len(await _telemetry_updates(client, scene, hid)) == 2
    finally:
        runtime.clock = lambda: datetime.now(UTC)
    assert runtime.bus.dead_letters == []


async def test_a_draft_gets_no_monitor_updates(app: FastAPI, client: httpx.AsyncClient) -> None:
    scene = await _scene(app, client)
    body = handoff_body(scene.incident_id, HOSPITAL, patient_id=scene.patient_id)
    draft = (await client.post("/api/handoffs", json=body, headers=scene.crew)).json()
    await _ingest(app, scene.monitor, datetime.now(UTC), hr=99)
    await runtime_of(app).get(VitalsFollow).check_once()
    log = await client.get(f"/api/handoffs/{draft['id']}/updates", headers=scene.crew)
    assert [u["kind"] for u in log.json()] == []


async def test_no_monitor_updates_when_the_interval_setting_is_zero(settings: Settings) -> None:
    off = settings.model_copy(update={"handoffs": HandoffSettings(vitals_update_seconds=0)})
    app = create_app(off)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            scene = await _scene(app, client)
            handoff = await _sent(client, scene)
            await _ingest(app, scene.monitor, datetime.now(UTC), hr=130, sbp=104, dbp=62)
            assert await runtime_of(app).get(VitalsFollow).check_once() == 0
            assert await _telemetry_updates(client, scene, handoff["id"]) == []
