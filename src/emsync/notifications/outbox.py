"""The notification outbox: rows written in the transaction of their cause, claimed by the
worker under a lease, rendered, sent, and their outcome recorded with each attempt.

A claimed row whose worker died comes back when its lease runs out and is sent again with the
same idempotency key (the provider, the mail system or the webhook receiver deduplicates).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.db import insert_ignoring_conflicts
from emsync.core.ids import new_id
from emsync.notifications import flood, signing
from emsync.notifications.channels import Accepted, DeliveryError, Outgoing
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.events import NotificationStatusChanged
from emsync.notifications.lifecycle import FINAL, Delivery, retry_delay
from emsync.notifications.models import Attempt, ContactPoint, Notification
from emsync.notifications.templates import TemplateError, render

D = Delivery


def data_aad(notification_id: str) -> bytes:
    return f"notify.notification:{notification_id}".encode()


def address_aad(owner_id: str) -> bytes:
    return f"notify.address:{owner_id}".encode()


@dataclass(frozen=True, slots=True)
class Keys:
    """Keys derived from the app's signing secret, one per purpose."""

    ack: bytes
    code: bytes
    address: bytes

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        return cls(
            ack=signing.derive_key(secret, "ack-link"),
            code=signing.derive_key(secret, "verification-code"),
            address=signing.derive_key(secret, "address-digest"),
        )


@dataclass(frozen=True, slots=True)
class NewNotification:
    channel: ChannelKind
    template: str
    language: str
    data: Mapping[str, Any]
    idempotency_key: str
    user_id: str | None = None
    contact_point_id: str | None = None
    address: str | None = None  # normalized, for an address outside the contact points
    page_id: str | None = None
    step: int | None = None
    subject_kind: str | None = None
    subject_id: str | None = None
    urgent: bool = False
    reply_code: str | None = None
    ack_token_id: str | None = None
    status: Delivery = D.QUEUED
    status_reason: str | None = None


async def add(
    session: AsyncSession, keyring: Keyring, item: NewNotification, now: datetime
) -> str | None:
    """Write one outbox row in the caller's transaction; None when a row with the same
    idempotency key exists already (a redelivered cause adds nothing)."""
    notification_id = new_id()
    table = Notification.__table__
    statement = insert_ignoring_conflicts(table, session.bind.dialect.name).values(  # type: ignore[arg-type,union-attr]
        id=notification_id,
        idempotency_key=item.idempotency_key,
        page_id=item.page_id,
        step=item.step,
        user_id=item.user_id,
        contact_point_id=item.contact_point_id,
        address_sealed=None
        if item.address is None
        else keyring.seal(item.address.encode(), aad=address_aad(notification_id)),
        channel=item.channel.value,
        template=item.template,
        language=item.language,
        data_sealed=keyring.seal(orjson.dumps(dict(item.data)), aad=data_aad(notification_id)),
        subject_kind=item.subject_kind,
        subject_id=item.subject_id,
        urgent=item.urgent,
        status=item.status.value,
        status_reason=item.status_reason,
        attempts=0,
        next_attempt_at=now if item.status is D.QUEUED else None,
        reply_code=item.reply_code,
        ack_token_id=item.ack_token_id,
        created_at=now,
        updated_at=now,
    )
    result = await session.execute(statement)
    return notification_id if result.rowcount else None  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Claimed:
    outgoing: Outgoing
    lease_until: datetime


@dataclass(frozen=True, slots=True)
class Links:
    public_url: str

    def dashboard(self, subject_kind: str | None, subject_id: str | None) -> str:
        base = self.public_url.rstrip("/")
        if subject_kind == "telemetry.alert":
            return f"{base}/paging"
        if subject_kind == "handoff":
            return f"{base}/paging"
        return f"{base}/"

    def ack(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/ack/{token}"


def due(now: datetime) -> ColumnElement[bool]:
    """What the delivery loop claims: queued and due, or left mid-send by a dead worker."""
    return or_(
        (Notification.status == D.QUEUED.value) & (Notification.next_attempt_at <= now),
        (Notification.status == D.SENDING.value) & (Notification.lease_until < now),
    )


async def claim_due(
    *,
    session: AsyncSession,
    keyring: Keyring,
    keys: Keys,
    links: Links,
    limits: flood.Limits,
    window: timedelta,
    lease: timedelta,
    limit: int,
    now: datetime,
) -> tuple[list[Claimed], list[NotificationStatusChanged]]:
    """Claim what is due (and what a dead worker left mid-send), hold what is over a rate limit,
    and render the rest for sending. The caller commits, then sends."""
    query = (
        select(Notification)
        .where(due(now))
        .order_by(Notification.urgent.desc(), Notification.next_attempt_at)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        query = query.with_for_update(skip_locked=True)
    rows = list(await session.scalars(query))
    sent = await _sent_in_window(session, {r.user_id for r in rows if r.user_id}, now - window)
    claimed: list[Claimed] = []
    events: list[NotificationStatusChanged] = []
    for row in rows:
        if row.status == D.SENDING.value:
            session.add(
                Attempt(
                    id=new_id(),
                    notification_id=row.id,
                    number=row.attempts,
                    at=now,
                    outcome="interrupted",
                    detail="the worker stopped mid-send; sent again with the same idempotency key",
                )
            )
        elif row.user_id is not None and row.template != "digest":
            counts = sent.setdefault(row.user_id, Counter())
            window_sent = flood.Sent(total=sum(counts.values()), by_channel=counts)
            if not flood.admits(limits, window_sent, row.channel, urgent=row.urgent):
                row.status, row.status_reason = D.HELD.value, "rate limit: in the next digest"
                row.updated_at, row.next_attempt_at = now, None
                events.append(_changed(row, now))
                continue
            counts[row.channel] += 1
        row.status = D.SENDING.value
        row.attempts += 1
        row.lease_until = now + lease
        row.updated_at = now
        try:
            outgoing = await _outgoing(session, keyring, keys, links, row)
        except (TemplateError, LookupError) as exc:
            _fail(session, row, f"cannot render: {exc}", now)
            events.append(_changed(row, now))
            continue
        claimed.append(Claimed(outgoing=outgoing, lease_until=row.lease_until))
    await session.flush()
    return claimed, events


async def _sent_in_window(
    session: AsyncSession, user_ids: set[str], since: datetime
) -> dict[str, Counter[str]]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Notification.user_id, Notification.channel, func.count())
        .where(
            Notification.user_id.in_(list(user_ids)),
            Notification.sent_at >= since,
        )
        .group_by(Notification.user_id, Notification.channel)
    )
    out: dict[str, Counter[str]] = {}
    for user_id, channel, n in rows.all():
        out.setdefault(str(user_id), Counter())[channel] = int(n)
    return out


async def _outgoing(
    session: AsyncSession, keyring: Keyring, keys: Keys, links: Links, row: Notification
) -> Outgoing:
    channel = ChannelKind(row.channel)
    secret: str | None = None
    if channel is ChannelKind.IN_APP:
        assert row.user_id is not None
        address = row.user_id
    elif row.address_sealed is not None:
        address = keyring.open(row.address_sealed, aad=address_aad(row.id)).decode()
    else:
        point = await session.get(ContactPoint, row.contact_point_id)
        if point is None:
            raise LookupError("the contact point was removed")
        address = keyring.open(point.address_sealed, aad=address_aad(point.id)).decode()
        if point.secret_sealed is not None:
            secret = keyring.open(
                point.secret_sealed, aad=address_aad(f"{point.id}:secret")
            ).decode()
    data = orjson.loads(keyring.open(row.data_sealed, aad=data_aad(row.id)))
    link_values = {"dashboard": links.dashboard(row.subject_kind, row.subject_id)}
    payload: dict[str, Any] = {
        "type": row.template,
        "notification_id": row.id,
        "page_id": row.page_id,
        "subject_kind": row.subject_kind,
        "subject_id": row.subject_id,
        "url": link_values["dashboard"],
    }
    if row.ack_token_id is not None:
        token = signing.ack_token_from_id(keys.ack, row.ack_token_id)
        link_values["ack_link"] = links.ack(token)
        payload["ack_url"] = link_values["ack_link"]
    if row.reply_code is not None:
        link_values["reply_code"] = row.reply_code
    rendered = render(
        row.template, language=row.language, channel=channel, data=data, links=link_values
    )
    return Outgoing(
        notification_id=row.id,
        idempotency_key=row.idempotency_key,
        channel=channel,
        address=address,
        subject=rendered.subject,
        text=rendered.text,
        payload=payload,
        secret=secret,
    )


def _fail(session: AsyncSession, row: Notification, detail: str, now: datetime) -> None:
    row.status, row.status_reason = D.FAILED.value, detail[:200]
    row.lease_until, row.next_attempt_at, row.updated_at = None, None, now
    session.add(
        Attempt(
            id=new_id(),
            notification_id=row.id,
            number=row.attempts,
            at=now,
            outcome="failed",
            detail=detail[:500],
        )
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    notification_id: str
    result: Accepted | DeliveryError
    started: datetime
    duration_ms: int


async def record(
    *,
    session: AsyncSession,
    outcomes: Sequence[Outcome],
    max_attempts: int,
    retry_base: float,
    retry_cap: float,
    now: datetime,
    rng: random.Random | None = None,
) -> list[NotificationStatusChanged]:
    """Write each attempt's outcome: sent (or delivered), a retry at the backoff time, or
    failed for good. The caller commits."""
    draw = (rng or random).random
    rows = {
        r.id: r
        for r in await session.scalars(
            select(Notification).where(Notification.id.in_([o.notification_id for o in outcomes]))
        )
    }
    events = []
    for outcome in outcomes:
        row = rows.get(outcome.notification_id)
        if row is None or row.status != D.SENDING.value:
            continue  # removed, or reclaimed after a lease ran out: the newer attempt decides
        result = outcome.result
        if isinstance(result, Accepted):
            row.status = (D.DELIVERED if result.delivered else D.SENT).value
            row.provider_id = result.provider_id or row.provider_id
            row.sent_at = row.sent_at or now
            if result.delivered:
                row.delivered_at = now
            row.status_reason, row.lease_until, row.next_attempt_at = None, None, None
            detail, label = result.detail, "delivered" if result.delivered else "sent"
        elif result.permanent or row.attempts >= max_attempts:
            row.status = D.FAILED.value
            row.status_reason = (
                result.detail if result.permanent else f"gave up after {row.attempts} attempts"
            )[:200]
            row.lease_until, row.next_attempt_at = None, None
            detail, label = result.detail, "failed"
        else:
            delay = retry_delay(row.attempts, base=retry_base, cap=retry_cap, jitter=draw())
            row.status = D.QUEUED.value
            row.status_reason = f"retrying: {result.detail}"[:200]
            row.lease_until, row.next_attempt_at = None, now + timedelta(seconds=delay)
            detail, label = result.detail, "retry"
        row.updated_at = now
        session.add(
            Attempt(
                id=new_id(),
                notification_id=row.id,
                number=row.attempts,
                at=outcome.started,
                outcome=label,
                detail=detail[:500],
                duration_ms=outcome.duration_ms,
            )
        )
        events.append(_changed(row, now))
    await session.flush()
    return events


def _changed(row: Notification, now: datetime) -> NotificationStatusChanged:
    return NotificationStatusChanged(
        notification_id=row.id,
        page_id=row.page_id,
        user_id=row.user_id,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        at=now,
    )


async def provider_status(
    *, session: AsyncSession, provider_id: str, status: Delivery, detail: str, now: datetime
) -> NotificationStatusChanged | None:
    """A provider's delivery report (SMS status callback) for the message it knows by its id."""
    row = (
        await session.scalars(select(Notification).where(Notification.provider_id == provider_id))
    ).first()
    if row is None:
        return None
    current = D(row.status)
    if current in FINAL or current == status:
        return None
    if status is D.DELIVERED and current in (D.SENT, D.SENDING):
        row.status, row.delivered_at = D.DELIVERED.value, now
    elif status is D.FAILED and current in (D.SENT, D.DELIVERED):
        row.status, row.status_reason = D.FAILED.value, detail[:200]
    else:
        return None
    row.updated_at = now
    session.add(
        Attempt(
            id=new_id(),
            notification_id=row.id,
            number=row.attempts,
            at=now,
            outcome=f"report:{status.value}",
            detail=detail[:500],
        )
    )
    return _changed(row, now)


async def cancel_pending(*, session: AsyncSession, page_id: str, reason: str, now: datetime) -> int:
    rows = list(
        await session.scalars(
            select(Notification).where(
                Notification.page_id == page_id,
                Notification.status.in_([D.QUEUED.value, D.HELD.value]),
            )
        )
    )
    for row in rows:
        row.status, row.status_reason, row.updated_at = D.CANCELLED.value, reason, now
        row.next_attempt_at = None
    return len(rows)
