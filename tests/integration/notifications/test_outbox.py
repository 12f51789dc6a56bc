"""The outbox is written in the transaction of its cause: a rolled-back cause leaves nothing, a
failing reaction never takes its cause down, a retried cause adds nothing; other domains'
enqueue goes through the same rows; an overdue handoff pages through the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from emsync.auth.permissions import Role
from emsync.core.errors import ValidationFailed
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.handoffs.events import HandoffAcknowledged, HandoffAcknowledgementOverdue
from emsync.notifications import ChannelKind, Recipient, enqueue
from emsync.notifications.models import Notification, Page
from emsync.notifications.sandbox import HttpSandbox
from emsync.notifications.worker import NotificationWorker
from emsync.telemetry.events import AlertChanged
from tests.builders import auth_headers
from tests.integration.notifications.test_channels import add


def runtime_of(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


def raised(alert_id: str, patient_id: str = "patient-1") -> AlertChanged:
    return AlertChanged(
        alert_id=alert_id,
        patient_id=patient_id,
        kind="news2",
        level="high",
        status="raised",
        change="raised",
        actor="system:telemetry",
        at=datetime.now(UTC),
    )


async def pages(rt: Runtime) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Page)) or 0)


async def test_a_page_commits_with_its_cause_or_not_at_all(app: FastAPI) -> None:
    rt = runtime_of(app)
    async with rt.sessions() as session:
        uow = UnitOfWork(session, rt.bus)
        uow.record(raised("a-rolled-back"))
        await rt.bus.stage(session, [raised("a-rolled-back")])
        await uow.rollback()  # the cause failed: its page goes with it
    assert await pages(rt) == 0
    async with rt.sessions() as session:
        uow = UnitOfWork(session, rt.bus)
        uow.record(raised("a-kept"))
        await uow.commit()
    assert await pages(rt) == 1
    async with rt.sessions() as session:  # the same cause delivered again adds nothing
        uow = UnitOfWork(session, rt.bus)
        uow.record(raised("a-kept"))
        await uow.commit()
    assert await pages(rt) == 1


async def test_a_failing_reaction_is_dead_lettered_and_the_cause_still_commits(
    app: FastAPI,
) -> None:
    rt = runtime_of(app)

    async def broken(_session: object, _event: AlertChanged) -> list[object]:
        raise RuntimeError("bug in a reaction")

    rt.bus.subscribe_in_transaction(AlertChanged, broken)  # type: ignore[arg-type]
    async with rt.sessions() as session:
        uow = UnitOfWork(session, rt.bus)
        uow.record(raised("a-with-bug", patient_id="patient-2"))
        await uow.commit()
    assert await pages(rt) == 1  # the page of the working reaction committed
    assert rt.bus.dead_letters[-1].error == "RuntimeError('bug in a reaction')"


async def test_enqueue_for_other_domains_writes_with_the_caller_and_refuses_bad_input(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox
) -> None:
    rt = runtime_of(app)
    headers = await auth_headers(app, client, Role.CLINICIAN)
    me = (await client.get("/api/auth/me", headers=headers)).json()
    now = rt.clock()
    async with rt.sessions() as session:
        uow = UnitOfWork(session, rt.bus)
        with pytest.raises(ValidationFailed) as bad:
            await enqueue(
                uow=uow,
                keyring=rt.keyring,
                template="notice",
                recipients=[Recipient.at(ChannelKind.SMS, "call me")],
                data={"title": "t", "body": "b"},
                idempotency_key=f"intake:{me['id']}",
                now=now,
            )
        assert bad.value.extra["errors"][0]["field"] == "recipients.0.address"
        ids = await enqueue(
            uow=uow,
            keyring=rt.keyring,
            template="notice",
            recipients=[Recipient.user(me["id"]), Recipient.at(ChannelKind.SMS, "+358405550101")],
            data={"title": "Your relative has arrived", "body": "Ward 4"},
            idempotency_key=f"intake:{me['id']}",
            now=now,
        )
        await uow.commit()
    assert len(ids) == 2  # the user's in-app inbox (no verified contact point yet) and the phone
    before = len(sandbox.state.sms)
    await runtime_of(app).get(NotificationWorker).deliver_once()
    assert sandbox.state.sms[before].body == "Ward 4"  # a notice carries the text its caller wrote
    inbox = (await client.get("/api/notifications/inbox", headers=headers)).json()
    assert inbox[0]["subject"] == "Your relative has arrived"
    async with rt.sessions() as session:  # the same key again: nothing new
        again = await enqueue(
            uow=UnitOfWork(session, rt.bus),
            keyring=rt.keyring,
            template="notice",
            recipients=[Recipient.at(ChannelKind.SMS, "+358405550101")],
            data={"title": "Your relative has arrived", "body": "Ward 4"},
            idempotency_key=f"intake:{me['id']}",
            now=now,
        )
        await session.commit()
    assert again == []


async def test_an_overdue_handoff_pages_the_dispatch_on_call_until_it_is_acknowledged(
    app: FastAPI, client: httpx.AsyncClient, sandbox: HttpSandbox
) -> None:
    rt = runtime_of(app)
    admin = await auth_headers(app, client, Role.ADMIN)
    dispatcher = await auth_headers(app, client, Role.DISPATCHER)
    me = (await client.get("/api/auth/me", headers=dispatcher)).json()
    point = await add(client, dispatcher, "sms", "+358405550202")
    worker = rt.get(NotificationWorker)
    await worker.deliver_once()
    code = sandbox.state.sms[-1].body.rsplit(" ", 1)[1].rstrip(".")
    await client.post(
        f"/api/notifications/contact-points/{point['id']}/verify",
        json={"code": code},
        headers=dispatcher,
    )
    team = (
        await client.post(
            "/api/notifications/teams",
            json={"name": "Dispatch centre", "kind": "dispatch_centre"},
            headers=admin,
        )
    ).json()
    schedule = (
        await client.post(
            "/api/notifications/schedules",
            json={
                "team_id": team["id"],
                "name": "Duty officer",
                "rotation_start": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
                "shift_hours": 8,
                "members": [me["id"]],
            },
            headers=admin,
        )
    ).json()
    policy = await client.post(
        "/api/notifications/policies",
        json={
            "name": "Handoff not acknowledged",
            "triggers": ["handoffs.ack_overdue"],
            "steps": [
                {
                    "delay_seconds": 0,
                    "channels": ["sms"],
                    "targets": [{"kind": "schedule", "ref": schedule["id"]}],
                }
            ],
        },
        headers=admin,
    )
    assert policy.status_code == 201, policy.text
    overdue = HandoffAcknowledgementOverdue(
        handoff_id="h-1",
        hospital_id="hosp-1234567",
        incident_id="i-1",
        unit_id=None,
        status="sent",
        sent_at=(datetime.now(UTC) - timedelta(minutes=3)).isoformat(),
        overdue_seconds=180.0,
    )
    async with rt.sessions() as session:
        uow = UnitOfWork(session, rt.bus)
        uow.record(overdue)
        await uow.commit()
    await worker.escalate_once()
    await worker.deliver_once()
    assert "has not been acknowledged for 3 min" in sandbox.state.sms[-1].body
    async with rt.sessions() as session:
        uow = UnitOfWork(session, rt.bus)
        uow.record(
            HandoffAcknowledged(
                handoff_id="h-1",
                hospital_id="hosp-1234567",
                incident_id="i-1",
                unit_id=None,
                status="acknowledged",
                old="sent",
                new="acknowledged",
                actor="user:x",
            )
        )
        await uow.commit()
    page = (await client.get("/api/notifications/pages?subject_id=h-1", headers=dispatcher)).json()[
        0
    ]
    assert page["status"] == "resolved"
    async with rt.sessions() as session:
        sms_rows = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.page_id == page["id"])
        )
    assert sms_rows == 1


async def test_a_different_trouble_is_not_hidden_by_an_acknowledged_page(app: FastAPI) -> None:
    rt = runtime_of(app)

    async def cause(event: AlertChanged) -> None:
        async with rt.sessions() as session:
            uow = UnitOfWork(session, rt.bus)
            uow.record(event)
            await uow.commit()

    news2 = raised("a-news2", patient_id="patient-3")
    await cause(news2)
    await cause(
        AlertChanged(
            **{
                **news2.to_dict(),
                "at": news2.at,
                "change": "acknowledged",
                "status": "acknowledged",
            }
        )
    )
    stale = AlertChanged(
        **{
            **news2.to_dict(),
            "at": news2.at,
            "alert_id": "a-stale",
            "kind": "stale",
            "level": "stale",
        }
    )
    await cause(stale)  # the monitor went silent after the deterioration was taken
    assert await pages(rt) == 2
    await cause(AlertChanged(**{**stale.to_dict(), "at": stale.at, "alert_id": "a-stale-2"}))
    assert await pages(rt) == 2  # a repeat joins the open page


class _NoWriting:
    """The runtime as the worker sees it, except that a writing session fails the test."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def __getattr__(self, name: str) -> object:
        return getattr(self._rt, name)

    def sessions(self) -> None:
        raise AssertionError("an idle round opened a writing session")


async def test_an_idle_round_takes_no_write_transaction_and_a_due_one_still_runs(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker polls every few seconds; with nothing due it only reads (on SQLite a writing
    transaction queues for the process's one write lock, ahead of the readings and the API)."""
    rt = runtime_of(app)
    worker = rt.get(NotificationWorker)
    with monkeypatch.context() as patched:
        patched.setattr(worker, "_rt", _NoWriting(rt))
        assert await worker.deliver_once() == 0
        assert await worker.escalate_once() == 0
    # Something due: the same rounds find it.
    async with rt.sessions() as session:
        await rt.bus.stage(session, [raised("an-idle-check")])
        await session.commit()
    assert await pages(rt) == 1
    assert await worker.escalate_once() >= 1
