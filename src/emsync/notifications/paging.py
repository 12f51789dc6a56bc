"""Pages: an escalation in progress. Opened (or grouped into an open one) in the transaction of
its cause; advanced step by step by the worker along a snapshot of its policy; stopped by an
acknowledgement from any channel or by its cause resolving."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.events import Event
from emsync.core.ids import new_id
from emsync.notifications import addresses, escalation, flood, outbox, signing, sms
from emsync.notifications.escalation import ChannelKind, TargetKind
from emsync.notifications.events import PageAcknowledged, PageClosed, PageOpened
from emsync.notifications.lifecycle import Delivery, PageStatus, page_may_move
from emsync.notifications.models import (
    AckToken,
    ContactPoint,
    InboundMessage,
    Notification,
    Page,
    Policy,
)
from emsync.notifications.schemas import AckResult

S = PageStatus
LIVE = (S.OPEN.value, S.EXHAUSTED.value, S.ACKNOWLEDGED.value)
LINK_CHANNELS = frozenset({ChannelKind.SMS, ChannelKind.EMAIL, ChannelKind.PUSH})


def page_aad(page_id: str) -> bytes:
    return f"notify.page:{page_id}".encode()


def policy_to_data(policy: escalation.Policy) -> dict[str, Any]:
    return {
        "steps": [
            {
                "delay_seconds": s.delay_seconds,
                "targets": [{"kind": t.kind.value, "ref": t.ref} for t in s.targets],
                "channels": [c.value for c in s.channels],
            }
            for s in policy.steps
        ],
        "repeat": policy.repeat,
        "repeat_after_seconds": policy.repeat_after_seconds,
    }


def policy_from_data(data: Mapping[str, Any]) -> escalation.Policy:
    return escalation.Policy(
        steps=tuple(
            escalation.Step(
                delay_seconds=float(s["delay_seconds"]),
                targets=tuple(
                    escalation.Target(TargetKind(t["kind"]), str(t["ref"])) for t in s["targets"]
                ),
                channels=tuple(ChannelKind(c) for c in s["channels"]),
            )
            for s in data["steps"]
        ),
        repeat=int(data.get("repeat", 0)),
        repeat_after_seconds=float(data.get("repeat_after_seconds", 300)),
    )


async def _policy_for(
    session: AsyncSession, trigger: str
) -> tuple[str | None, str, dict[str, Any]]:
    for row in await session.scalars(select(Policy).order_by(Policy.created_at)):
        if trigger in row.triggers:
            data = {
                "steps": row.steps,
                "repeat": row.repeat,
                "repeat_after_seconds": row.repeat_after_seconds,
            }
            return row.id, row.name, data
    return None, "default (role chain)", policy_to_data(escalation.DEFAULT_POLICY)


@dataclass(frozen=True, slots=True)
class Cause:
    """What opens a page: the trigger, what it is about, and the template data."""

    trigger: str
    subject_kind: str
    subject_id: str
    group: str  # the patient (or handoff) repeats group under
    template: str
    data: Mapping[str, Any]
    idempotency_key: str


async def open_page(
    *,
    session: AsyncSession,
    keyring: Keyring,
    cause: Cause,
    now: datetime,
    reopen: bool = False,
) -> list[Event]:
    """Open a page for `cause` in the caller's transaction, or group it into the open page of
    the same patient; `reopen`: a worse level needs a fresh acknowledgement."""
    if await session.scalar(select(Page.id).where(Page.idempotency_key == cause.idempotency_key)):
        return []  # a redelivered cause
    key = flood.group_key(cause.trigger, cause.group)
    live = await session.scalars(
        select(Page)
        .where(Page.group_key == key, Page.status.in_(LIVE))
        .order_by(Page.opened_at.desc())
    )
    # Another kind of trouble (a silent monitor) does not hide behind an acknowledged page.
    current = next(
        (p for p in live if p.status != S.ACKNOWLEDGED.value or p.trigger == cause.trigger), None
    )
    if current is not None:
        current.occurrences += 1
        current.updated_at = now
        current.data_sealed = keyring.seal(orjson.dumps(dict(cause.data)), aad=page_aad(current.id))
        if reopen and current.status != S.OPEN.value:
            current.status, current.steps_done = S.OPEN.value, 0
            current.acknowledged_at = current.acknowledged_by = current.acknowledged_via = None
            current.next_step_at = now
            return [page_event(PageOpened, current, now)]
        return []
    policy_id, policy_name, policy = await _policy_for(session, cause.trigger)
    first = escalation.plan(policy_from_data(policy), 0)
    page_id = new_id()
    page = Page(
        id=page_id,
        idempotency_key=cause.idempotency_key,
        trigger=cause.trigger,
        subject_kind=cause.subject_kind,
        subject_id=cause.subject_id,
        group_key=key,
        template=cause.template,
        data_sealed=keyring.seal(orjson.dumps(dict(cause.data)), aad=page_aad(page_id)),
        policy_id=policy_id,
        policy_name=policy_name,
        policy=policy,
        status=S.OPEN.value,
        steps_done=0,
        next_step_at=None if first is None else now + timedelta(seconds=first.delay_seconds),
        occurrences=1,
        opened_at=now,
        updated_at=now,
    )
    session.add(page)
    await session.flush()
    return [page_event(PageOpened, page, now)]


def page_event(kind: type[PageOpened] | type[PageClosed], page: Page, now: datetime) -> Event:
    return kind(
        page_id=page.id,
        trigger=page.trigger,
        subject_kind=page.subject_kind,
        subject_id=page.subject_id,
        status=page.status,
        at=now,
    )


async def _acknowledge(
    session: AsyncSession, page: Page, *, by: str, via: str, now: datetime
) -> list[Event]:
    if not page_may_move(S(page.status), S.ACKNOWLEDGED):
        return []
    page.status, page.next_step_at = S.ACKNOWLEDGED.value, None
    page.acknowledged_at, page.acknowledged_by, page.acknowledged_via = now, by, via
    page.updated_at = now
    await outbox.cancel_pending(session=session, page_id=page.id, reason="acknowledged", now=now)
    if by.startswith("user:"):
        await session.execute(
            update(Notification)
            .where(
                Notification.page_id == page.id,
                Notification.user_id == by.removeprefix("user:"),
                Notification.status.in_([Delivery.SENT.value, Delivery.DELIVERED.value]),
            )
            .values(status=Delivery.ACKNOWLEDGED.value, updated_at=now)
        )
    return [
        PageAcknowledged(
            page_id=page.id,
            trigger=page.trigger,
            subject_kind=page.subject_kind,
            subject_id=page.subject_id,
            status=page.status,
            at=now,
            by=by,
            via=via,
        )
    ]


async def _subject_pages(session: AsyncSession, subject_kind: str, subject_id: str) -> list[Page]:
    rows = await session.scalars(
        select(Page).where(
            Page.subject_kind == subject_kind,
            Page.subject_id == subject_id,
            Page.status.in_(LIVE),
        )
    )
    return list(rows)


async def acknowledge_subject(
    *, session: AsyncSession, subject_kind: str, subject_id: str, by: str, now: datetime
) -> list[Event]:
    """The cause was acknowledged where it lives (the alert in the monitor): stop paging."""
    events: list[Event] = []
    for page in await _subject_pages(session, subject_kind, subject_id):
        events += await _acknowledge(session, page, by=by, via="source", now=now)
    return events


async def resolve_subject(
    *, session: AsyncSession, subject_kind: str, subject_id: str, now: datetime
) -> list[Event]:
    events: list[Event] = []
    for page in await _subject_pages(session, subject_kind, subject_id):
        page.status, page.next_step_at, page.resolved_at, page.updated_at = (
            S.RESOLVED.value,
            None,
            now,
            now,
        )
        await outbox.cancel_pending(session=session, page_id=page.id, reason="resolved", now=now)
        events.append(page_event(PageClosed, page, now))
    return events


def _result(page: Page) -> AckResult:
    return AckResult(
        page_id=page.id,
        status=page.status,
        subject_kind=page.subject_kind,
        subject_id=page.subject_id,
        acknowledged_by=page.acknowledged_by,
        acknowledged_via=page.acknowledged_via,
    )


async def acknowledge_page(
    *, session: AsyncSession, page_id: str, user_id: str, via: str, now: datetime
) -> tuple[AckResult, list[Event]]:
    """From the dashboard: acknowledging an acknowledged page again is no error."""
    page = await session.get(Page, page_id, with_for_update=True)
    if page is None:
        raise NotFound(f"page {page_id} does not exist")
    if page.status == S.RESOLVED.value:
        raise Conflict("the page is resolved: its cause went away")
    events = await _acknowledge(session, page, by=f"user:{user_id}", via=via, now=now)
    return _result(page), events


async def acknowledge_by_token(
    *, session: AsyncSession, keys: outbox.Keys, token: str, now: datetime
) -> tuple[AckResult, list[Event]]:
    """A signed one-time link from an e-mail or SMS."""
    token_id = signing.ack_token_id(keys.ack, token)
    problem = ValidationFailed(
        "this acknowledgement link is not valid",
        errors=[{"field": "token", "message": "not a valid acknowledgement link"}],
    )
    if token_id is None:
        raise problem
    row = await session.get(AckToken, token_id, with_for_update=True)
    if row is None:
        raise problem
    if row.used_at is not None:
        raise Conflict("this link was used already; open the dashboard", field="token")
    if row.expires_at <= now:
        raise Conflict("this link has expired; acknowledge in the dashboard", field="token")
    row.used_at = now
    page = await session.get(Page, row.page_id, with_for_update=True)
    assert page is not None
    events = await _acknowledge(session, page, by=f"user:{row.user_id}", via="link", now=now)
    return _result(page), events


async def handle_reply(
    *, session: AsyncSession, keys: outbox.Keys, message: sms.InboundSms, now: datetime
) -> tuple[str, list[Event], str]:
    """(outcome, events, reply text) for one inbound SMS, once per provider message id."""
    if await session.get(InboundMessage, message.message_sid) is not None:
        return "duplicate", [], "EMsync: already handled."
    keyword = sms.reply_keyword(message.body)
    try:
        sender = addresses.normalize(ChannelKind.SMS, message.sender)
    except addresses.InvalidAddress:
        sender = message.sender
    digest = signing.address_digest(keys.address, ChannelKind.SMS.value, sender)
    events: list[Event] = []
    if keyword is None:
        outcome, reply = "not_understood", "EMsync: not understood. Reply ACK and the code."
    else:
        outcome, events = await acknowledge_by_reply(
            session=session, keys=keys, sender=sender, code=keyword[1], now=now
        )
        reply = {
            "acknowledged": "EMsync: acknowledged. Escalation stopped.",
            "unknown sender": "EMsync: this number is not a verified contact point.",
            "no page for that reply": "EMsync: no page matches that code.",
        }.get(outcome, f"EMsync: {outcome}.")
    session.add(
        InboundMessage(
            provider_id=message.message_sid, from_digest=digest, received_at=now, outcome=outcome
        )
    )
    return outcome.replace(" ", "_"), events, reply


async def acknowledge_by_reply(
    *,
    session: AsyncSession,
    keys: outbox.Keys,
    sender: str,
    code: str | None,
    now: datetime,
) -> tuple[str, list[Event]]:
    """An SMS reply "ACK [code]" from a verified number: the page it names (or the newest one
    paged to that number)."""
    digest = signing.address_digest(keys.address, ChannelKind.SMS.value, sender)
    points = list(
        await session.scalars(
            select(ContactPoint).where(
                ContactPoint.address_digest == digest, ContactPoint.verified_at.is_not(None)
            )
        )
    )
    if not points:
        return "unknown sender", []
    query = (
        select(Notification)
        .where(
            Notification.contact_point_id.in_([p.id for p in points]),
            Notification.page_id.is_not(None),
            Notification.channel == ChannelKind.SMS.value,
        )
        .order_by(Notification.created_at.desc())
        .limit(1)
    )
    if code is not None:
        query = query.where(Notification.reply_code == code)
    notification = (await session.scalars(query)).first()
    if notification is None or notification.page_id is None:
        return "no page for that reply", []
    page = await session.get(Page, notification.page_id, with_for_update=True)
    assert page is not None
    events = await _acknowledge(
        session, page, by=f"user:{notification.user_id}", via="sms_reply", now=now
    )
    return ("acknowledged" if events else f"page already {page.status}"), events
