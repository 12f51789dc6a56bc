"""On-call paging end to end: a deteriorating patient's alert opens a page in the ingest's own
transaction, the on-call clinician is paged by push, then by SMS, and the SMS link stops it;
repeats group, rate limits hold, digests go out; an SMS reply acknowledges."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.notifications.models import Notification, Page
from emsync.notifications.sandbox import HttpSandbox
from emsync.notifications.signing import twilio_signature
from emsync.notifications.worker import NotificationWorker
from emsync.telemetry import envelope
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.events import AlertChanged
from emsync.telemetry.pipeline import Inbound, Pipeline
from tests.builders import auth_headers
from tests.integration.notifications.test_channels import add, verify
from tests.telemetry_support import SICK, make_patient, provision, vitals

LINK = re.compile(r"/ack/([A-Za-z0-9_~-]+)")


def news2_alert(response: httpx.Response) -> dict[str, Any]:
    alert: dict[str, Any] = next(a for a in response.json()["items"] if a["kind"] == "news2")
    return alert


def runtime_of(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


async def sick_reading(app: FastAPI, device: str, key: bytes, counter: int) -> None:
    topic = envelope.topic_for(device, "vitals")
    payload = envelope.seal(
        topic=topic,
        algorithm=Algorithm.ASCON_AEAD128,
        key=key,
        key_id=1,
        counter=counter,
        plaintext=vitals(**SICK),
    )
    await runtime_of(app).get(Pipeline).handle([Inbound(topic, payload, time.monotonic())])


async def on_call_clinician(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox, admin: dict[str, str]
) -> tuple[dict[str, str], str, dict[str, Any]]:
    """A clinician with verified push and SMS, on call in the ED schedule; the ED policy
    pages the schedule by push, then by SMS two minutes later, then the coordinators."""
    headers = await auth_headers(app, client, Role.CLINICIAN)
    me = (await client.get("/api/auth/me", headers=headers)).json()
    worker = runtime_of(app).get(NotificationWorker)
    subscription = sandbox.subscribe()
    push = await add(client, headers, "push", json.dumps(subscription))
    sms = await add(client, headers, "sms", "+358401230001")
    await worker.deliver_once()
    received = sandbox.state.push[subscription["endpoint"].rsplit("/", 1)[1]].received
    await verify(client, headers, push["id"], received[-1]["body"])
    await verify(client, headers, sms["id"], sandbox.state.sms[-1].body)
    team = await client.post(
        "/api/notifications/teams", json={"name": f"ED {me['id'][:6]}", "kind": "ed"}, headers=admin
    )
    schedule = await client.post(
        "/api/notifications/schedules",
        json={
            "team_id": team.json()["id"],
            "name": "ED consultant on call",
            "rotation_start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "shift_hours": 12,
            "members": [me["id"]],
        },
        headers=admin,
    )
    assert schedule.status_code == 201, schedule.text
    policy = await client.post(
        "/api/notifications/policies",
        json={
            "name": "Clinical deterioration",
            "triggers": ["telemetry.alert.news2", "telemetry.alert.stale"],
            "steps": [
                {
                    "delay_seconds": 0,
                    "channels": ["push", "in_app"],
                    "targets": [{"kind": "schedule", "ref": schedule.json()["id"]}],
                },
                {
                    "delay_seconds": 120,
                    "channels": ["sms"],
                    "targets": [{"kind": "schedule", "ref": schedule.json()["id"]}],
                },
                {
                    "delay_seconds": 120,
                    "channels": ["in_app"],
                    "targets": [{"kind": "role", "ref": "hospital_coordinator"}],
                },
            ],
        },
        headers=admin,
    )
    assert policy.status_code == 201, policy.text
    return headers, me["id"], subscription


async def test_deteriorating_patient_pages_by_push_then_sms_and_the_sms_link_stops_it(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox
) -> None:
    rt = runtime_of(app)
    worker = rt.get(NotificationWorker)
    admin = await auth_headers(app, client, Role.ADMIN)
    clinician, user_id, subscription = await on_call_clinician(app, client, sandbox, admin)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-page", patient_id=patient)

    await sick_reading(app, "mon-page", key, 1)
    alert = news2_alert(await client.get("/api/telemetry/alerts", headers=clinician))
    pages = (
        await client.get(f"/api/notifications/pages?subject_id={alert['id']}", headers=clinician)
    ).json()
    assert [p["status"] for p in pages] == ["open"]  # committed with the alert

    start = rt.clock()
    assert await worker.escalate_once() == 1
    await worker.deliver_once()
    received = sandbox.state.push[subscription["endpoint"].rsplit("/", 1)[1]].received
    page_push = received[-1]
    assert page_push["type"] == "clinical_alert"
    assert "high" in page_push["title"]
    assert "/ack/" in page_push["ack_url"]
    sms_before = len(sandbox.state.sms)

    rt.clock = lambda: start + timedelta(seconds=121)  # nobody acknowledged in two minutes
    assert await worker.escalate_once() == 1
    await worker.deliver_once()
    assert len(sandbox.state.sms) == sms_before + 1
    text = sandbox.state.sms[-1].body
    assert "Reply ACK" in text
    assert patient not in text
    token = LINK.search(text)
    assert token, text

    acked = await client.post("/api/notifications/ack", json={"token": token.group(1)})
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["acknowledged_via"]) == ("acknowledged", "link")
    assert acked.json()["acknowledged_by"] == f"user:{user_id}"
    again = await client.post("/api/notifications/ack", json={"token": token.group(1)})
    assert again.status_code == 409  # one-time
    forged = await client.post("/api/notifications/ack", json={"token": token.group(1)[:-2] + "xx"})
    assert forged.status_code == 422

    alert = news2_alert(await client.get("/api/telemetry/alerts", headers=clinician))
    assert (alert["status"], alert["acknowledged_by"]) == ("acknowledged", f"user:{user_id}")
    assert alert["escalation_step"] == 2

    rt.clock = lambda: start + timedelta(hours=1)  # escalation stopped: step 3 never fires
    assert await worker.escalate_once() == 0
    await worker.deliver_once()
    assert len(sandbox.state.sms) == sms_before + 1
    page = (
        await client.get(f"/api/notifications/pages?subject_id={alert['id']}", headers=clinician)
    ).json()[0]
    assert page["steps_done"] == 2
    assert page["status"] == "acknowledged"
    metrics = (await client.get("/metrics")).text
    assert (
        'emsync_pages_total{outcome="acknowledged",trigger="telemetry.alert.news2"} 1.0' in metrics
    )
    channels = [(n["step"], n["channel"], n["status"]) for n in page["notifications"]]
    assert (1, "push", "acknowledged") in channels
    assert (2, "sms", "acknowledged") in channels


async def test_an_sms_reply_acknowledges_and_a_forged_reply_is_refused(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox
) -> None:
    rt = runtime_of(app)
    worker = rt.get(NotificationWorker)
    admin = await auth_headers(app, client, Role.ADMIN)
    clinician, _, _ = await on_call_clinician(app, client, sandbox, admin)
    patient = await make_patient(client, admin)
    key, _, _ = await provision(client, admin, "mon-reply", patient_id=patient)
    await sick_reading(app, "mon-reply", key, 1)
    start = rt.clock()
    await worker.escalate_once()
    rt.clock = lambda: start + timedelta(seconds=121)
    await worker.escalate_once()
    await worker.deliver_once()
    code = re.search(r"ACK ([0-9]{4})", sandbox.state.sms[-1].body)
    assert code
    url = "http://testserver/api/notifications/sms/inbound"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
        form_forged = {
            "MessageSid": "SMforged",
            "From": "+358401230001",
            "Body": f"ACK {code.group(1)}",
        }
        forged = await raw.post(url, data=form_forged, headers={"X-Twilio-Signature": "bm9wZQ=="})
        assert forged.status_code == 401
        form = {"MessageSid": "SMreply1", "From": "+358401230001", "Body": f"ack {code.group(1)}"}
        signed = twilio_signature(sandbox.state.auth_token, url, form.items())
        reply = await raw.post(url, data=form, headers={"X-Twilio-Signature": signed})
    assert reply.status_code == 200
    assert "acknowledged" in reply.text
    alert = news2_alert(await client.get("/api/telemetry/alerts", headers=clinician))
    assert alert["status"] == "acknowledged"


async def test_repeats_group_rate_limits_hold_and_a_digest_follows(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox
) -> None:
    rt = runtime_of(app)
    worker = rt.get(NotificationWorker)
    admin = await auth_headers(app, client, Role.ADMIN)
    clinician, user_id, subscription = await on_call_clinician(app, client, sandbox, admin)
    patients = [await make_patient(client, admin) for _ in range(3)]
    keys = [
        (await provision(client, admin, f"mon-f{i}", patient_id=p))[0]
        for i, p in enumerate(patients)
    ]
    # A flapping monitor: many sick readings of one patient are one alert and one page.
    for counter in range(1, 6):
        await sick_reading(app, "mon-f0", keys[0], counter)
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Page)) == 1
    # Stale-data alerts of the same patient join that page (grouped), not a page of their own.
    async with rt.sessions() as session:
        event = AlertChanged(
            alert_id="stale-x",
            patient_id=patients[0],
            kind="stale",
            level="stale",
            status="raised",
            change="raised",
            actor="test",
            at=rt.clock(),
        )
        follow = await rt.bus.stage(session, [event])
        await session.commit()
    assert follow == []
    async with rt.sessions() as session:
        page = (await session.scalars(select(Page))).one()
        assert page.occurrences == 2

    # Push limit 12 per window: pages for many patients beyond it are held for the digest.
    rt.settings.notifications.rate_per_channel["push"] = 2  # settings are per app in tests
    worker._limits = type(worker._limits)(per_user=100, per_channel={"push": 2, "in_app": 100})
    for i in (1, 2):
        await sick_reading(app, f"mon-f{i}", keys[i], 1)
    await worker.escalate_once()
    await worker.deliver_once()
    async with rt.sessions() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Notification.status, func.count())
                    .where(
                        Notification.user_id == user_id,
                        Notification.channel == "push",
                        Notification.template == "clinical_alert",
                    )
                    .group_by(Notification.status)
                )
            ).all()
        )
    # The verification code was the first push of the window: one page fits, two are held.
    assert statuses == {"held": 2, "sent": 1}
    start = rt.clock()
    rt.clock = lambda: start + timedelta(seconds=rt.settings.notifications.rate_window_seconds + 1)
    await worker.escalate_once()
    await worker.deliver_once()
    received = sandbox.state.push[subscription["endpoint"].rsplit("/", 1)[1]].received
    assert received[-1]["type"] == "digest"
    assert "2" in received[-1]["title"]
    del clinician
