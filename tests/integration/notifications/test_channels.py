"""Every channel end to end through the outbox and the worker, against local servers speaking
the real protocols: codes arrive and verify, a test message arrives, attempts are logged."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from fastapi import FastAPI

from emsync.auth.permissions import Role
from emsync.core.runtime import Runtime
from emsync.notifications.sandbox import HttpSandbox, SmtpSandbox
from emsync.notifications.signing import twilio_signature
from emsync.notifications.worker import NotificationWorker
from tests.builders import auth_headers

CODE = re.compile(r"\b([0-9]{6})\b")


def worker(app: FastAPI) -> NotificationWorker:
    runtime: Runtime = app.state.runtime
    return runtime.get(NotificationWorker)


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, address: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/notifications/contact-points",
        json={"kind": kind, "address": address},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def verify(client: httpx.AsyncClient, headers: dict[str, str], point: str, text: str) -> None:
    match = CODE.search(text)
    assert match, text
    response = await client.post(
        f"/api/notifications/contact-points/{point}/verify",
        json={"code": match.group(1)},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["verified"] is True


async def test_every_channel_verifies_by_code_and_delivers_a_test_message(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox, smtp: SmtpSandbox
) -> None:
    headers = await auth_headers(app, client, Role.CLINICIAN)
    mail_before, sms_before = len(smtp.box.messages), len(sandbox.state.sms)
    email_point = await add(client, headers, "email", "Ana.Clinician@example.org")
    sms_point = await add(client, headers, "sms", "+358 40 123 4567")
    subscription = sandbox.subscribe()
    push_point = await add(client, headers, "push", json.dumps(subscription))
    hook_name = f"h{email_point['id'][:8]}"
    hook_point = await add(client, headers, "webhook", f"{sandbox.base}/hooks/{hook_name}")
    assert hook_point["webhook_secret"].startswith("whsec_")
    sandbox.hook(hook_name, hook_point["webhook_secret"])
    assert email_point["masked"] == "A…@example.org"
    assert sms_point["masked"] == "+35…567"

    assert await worker(app).deliver_once() == 4
    mail = smtp.box.messages[mail_before]
    assert mail["To"] == "Ana.Clinician@example.org"
    assert mail["Message-ID"].endswith("@emsync>")
    await verify(client, headers, email_point["id"], mail.get_content())
    sms = sandbox.state.sms[sms_before]
    assert sms.to == "+358401234567"
    assert sms.idempotency_key
    await verify(client, headers, sms_point["id"], sms.body)
    pushed = sandbox.state.push[subscription["endpoint"].rsplit("/", 1)[1]].received
    assert len(pushed) == 1
    assert pushed[0]["_topic"]
    await verify(client, headers, push_point["id"], pushed[0]["body"])
    hook_payload = [
        d for d in sandbox.state.hook_deliveries if d["payload"]["type"] == "contact_verification"
    ][-1]
    await verify(client, headers, hook_point["id"], hook_payload["payload"]["data"]["text"])

    for point in (email_point, sms_point, push_point, hook_point):
        sent = await client.post(
            f"/api/notifications/contact-points/{point['id']}/test", headers=headers
        )
        assert sent.status_code == 202, sent.text
    assert await worker(app).deliver_once() == 4
    assert "Test message" in smtp.box.messages[-1].get_content()
    assert "Test message" in sandbox.state.sms[-1].body
    assert "Test message" in pushed[-1]["body"]
    assert sandbox.state.hook_deliveries[-1]["payload"]["type"] == "test_message"

    log = (await client.get("/api/notifications/log", headers=headers)).json()
    tests = [n for n in log if n["template"] == "test_message"]
    assert {n["channel"] for n in tests} == {"email", "sms", "push", "webhook"}
    assert all(n["status"] in ("sent", "delivered") and n["attempt_log"] for n in tests)
    metrics = (await client.get("/metrics")).text
    assert 'emsync_notifications_total{channel="sms",outcome="sent"}' in metrics


async def test_bad_addresses_and_unverified_points_are_refused_with_the_field_named(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await auth_headers(app, client, Role.DISPATCHER)
    for kind, address in [
        ("email", "not-an-address"),
        ("sms", "040 123 4567"),
        ("sms", "+0123"),
        ("webhook", "http://example.org/hook"),
        ("push", '{"endpoint": "https://push.example/x", "keys": {"p256dh": "AAAA", "auth": "x"}}'),
    ]:
        response = await client.post(
            "/api/notifications/contact-points",
            json={"kind": kind, "address": address},
            headers=headers,
        )
        assert response.status_code == 422, (kind, address, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "address"
    point = await add(client, headers, "sms", "+358401112223")
    refused = await client.post(
        f"/api/notifications/contact-points/{point['id']}/test", headers=headers
    )
    assert refused.status_code == 409
    wrong = await client.post(
        f"/api/notifications/contact-points/{point['id']}/verify",
        json={"code": "000000"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "code"
    listed = (await client.get("/api/notifications/contact-points", headers=headers)).json()
    assert [p["verified"] for p in listed] == [False]


async def test_a_forged_status_callback_changes_nothing_and_a_signed_one_delivers(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox
) -> None:
    headers = await auth_headers(app, client, Role.CLINICIAN)
    point = await add(client, headers, "sms", "+358401234000")
    await worker(app).deliver_once()
    sid = sandbox.state.sms[-1].sid
    url = "http://testserver/api/notifications/sms/status"
    form = {
        "MessageSid": sid,
        "MessageStatus": "delivered",
        "AccountSid": sandbox.state.account_sid,
    }
    forged = await client.post(
        url, data=form, headers={"X-Twilio-Signature": twilio_signature("guess", url, form.items())}
    )
    assert forged.status_code == 401
    log = (await client.get("/api/notifications/log", headers=headers)).json()
    assert log[0]["status"] == "sent"
    signed = twilio_signature(sandbox.state.auth_token, url, form.items())
    accepted = await client.post(url, data=form, headers={"X-Twilio-Signature": signed})
    assert accepted.status_code == 204
    log = (await client.get("/api/notifications/log", headers=headers)).json()
    assert log[0]["status"] == "delivered"
    assert log[0]["attempt_log"][-1]["outcome"] == "report:delivered"
    assert point["kind"] == "sms"


async def test_failing_receivers_are_retried_with_the_same_id_then_give_up_visibly(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox
) -> None:
    headers = await auth_headers(app, client, Role.CLINICIAN)
    name = "flaky"
    point = await add(client, headers, "webhook", f"{sandbox.base}/hooks/{name}")
    sandbox.hook(name, point["webhook_secret"])
    sandbox.state.hook_fail_next = 2
    before = len(sandbox.state.hook_deliveries)
    w = worker(app)
    for _ in range(3):  # 500, 500, then accepted
        await w.deliver_once()
    assert len(sandbox.state.hook_deliveries) == before + 1
    entry = (await client.get("/api/notifications/log", headers=headers)).json()[0]
    assert [a["outcome"] for a in entry["attempt_log"]] == ["retry", "retry", "delivered"]
    assert entry["status"] == "delivered"

    # A receiver that hangs past the send timeout: the attempt gives up, the retry delivers.
    sandbox.state.hook_hang_seconds = 3  # the test settings' send timeout is 2 s
    sent = await client.post(
        f"/api/notifications/contact-points/{point['id']}/resend", headers=headers
    )
    assert sent.status_code == 200
    await w.deliver_once()
    sandbox.state.hook_hang_seconds = 0
    await w.deliver_once()
    hung = (await client.get("/api/notifications/log", headers=headers)).json()[0]
    assert [a["outcome"] for a in hung["attempt_log"]] == ["retry", "delivered"]
    assert re.search("timed out|did not answer in time", hung["attempt_log"][0]["detail"])

    # The SMS provider down for longer than max attempts: the failure stays in the log.
    sandbox.state.sms_fail_next = 100
    await add(client, headers, "sms", "+358409998887")
    runtime: Runtime = app.state.runtime
    for _ in range(runtime.settings.notifications.max_attempts):
        await w.deliver_once()
    sandbox.state.sms_fail_next = 0
    failed = (await client.get("/api/notifications/log", headers=headers)).json()[0]
    assert failed["status"] == "failed"
    assert len(failed["attempt_log"]) == runtime.settings.notifications.max_attempts
    assert "gave up" in (failed["status_reason"] or "")
