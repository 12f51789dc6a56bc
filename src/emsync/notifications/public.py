"""What other domains call to notify people, inside their own transaction (re-exported from the
package): the rows commit with the caller's change or not at all, and the worker delivers them.

    await notifications.enqueue(
        uow=uow, keyring=runtime.keyring, template="notice",
        recipients=[Recipient.user(user_id), Recipient.at(ChannelKind.SMS, "+358401234567")],
        data={"title": "...", "body": "..."}, idempotency_key=f"intake:{session_id}:arrived",
        now=runtime.clock(),
    )
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import ValidationFailed
from emsync.core.uow import UnitOfWork
from emsync.notifications import addresses, outbox
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.lifecycle import Delivery
from emsync.notifications.models import ContactPoint, Notification, Preference, Schedule, Team
from emsync.notifications.service import on_call_users
from emsync.notifications.templates import CATALOGUE, DEFAULT_LANGUAGE, LANGUAGES


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person (their verified contact points, within their preferences) or a bare address
    (a relative's phone, a public-alert webhook) on one channel."""

    user_id: str | None = None
    channels: tuple[ChannelKind, ...] | None = None  # a person: None = all they accept
    channel: ChannelKind | None = None  # an address: its channel
    address: str | None = None
    language: str | None = None

    @classmethod
    def user(cls, user_id: str, *channels: ChannelKind) -> Recipient:
        return cls(user_id=user_id, channels=channels or None)

    @classmethod
    def at(cls, channel: ChannelKind, address: str, *, language: str | None = None) -> Recipient:
        return cls(channel=channel, address=address, language=language)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


async def enqueue(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    template: str,
    recipients: Sequence[Recipient],
    data: Mapping[str, Any],
    idempotency_key: str,
    subject_kind: str | None = None,
    subject_id: str | None = None,
    now: datetime,
    urgent: bool = False,
) -> list[str]:
    """Queue `template` for each recipient in the caller's transaction; returns the new
    notification ids (none for a key already used: a retried cause sends nothing twice).
    Raises ValidationFailed naming the field for an unknown template, missing data or a bad
    address, before anything is written."""
    spec = CATALOGUE.get(template)
    if spec is None:
        raise _invalid("template", f"no template named {template!r}")
    missing = [f for f in spec.fields if f not in data]
    if missing:
        raise _invalid(f"data.{missing[0]}", f"the template needs data field {missing[0]!r}")
    rows: list[outbox.NewNotification] = []
    for i, recipient in enumerate(recipients):
        rows += await _rows(
            uow, recipient, i, template, data, idempotency_key, subject_kind, subject_id, urgent
        )
    ids = [await outbox.add(uow.session, keyring, row, now) for row in rows]
    return [i for i in ids if i is not None]


async def _rows(
    uow: UnitOfWork,
    recipient: Recipient,
    index: int,
    template: str,
    data: Mapping[str, Any],
    key: str,
    subject_kind: str | None,
    subject_id: str | None,
    urgent: bool,
) -> list[outbox.NewNotification]:
    common: dict[str, Any] = {
        "template": template,
        "data": dict(data),
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "urgent": urgent,
    }
    if recipient.address is not None:
        return [_address_row(recipient, index, key, common)]
    if recipient.user_id is None:
        raise _invalid(f"recipients.{index}", "a recipient is a user or an address")
    return await _user_rows(uow, recipient, recipient.user_id, key, common)


def _address_row(
    recipient: Recipient, index: int, key: str, common: dict[str, Any]
) -> outbox.NewNotification:
    assert recipient.address is not None
    if recipient.channel is None or recipient.channel is ChannelKind.IN_APP:
        raise _invalid(f"recipients.{index}.channel", "an address needs its channel")
    try:
        normalized = addresses.normalize(recipient.channel, recipient.address)
    except addresses.InvalidAddress as exc:
        raise _invalid(f"recipients.{index}.address", str(exc)) from None
    language = recipient.language if recipient.language in LANGUAGES else DEFAULT_LANGUAGE
    return outbox.NewNotification(
        channel=recipient.channel,
        language=language,
        address=normalized,
        # Keyed by the address, not its place in the list: a retried cause that lists its
        # recipients differently still sends nothing twice.
        idempotency_key=f"{key}:{recipient.channel.value}:"
        f"{hashlib.sha256(normalized.encode()).hexdigest()[:24]}",
        **common,
    )


async def _user_rows(
    uow: UnitOfWork, recipient: Recipient, user_id: str, key: str, common: dict[str, Any]
) -> list[outbox.NewNotification]:
    """One row per verified contact point on the channels asked for and accepted; in-app
    always; a suppressed row saying why when nothing else can go."""
    session = uow.session
    pref = await session.get(Preference, user_id)
    accepted = set(pref.channels) if pref else {c.value for c in ChannelKind}
    language = pref.language if pref else DEFAULT_LANGUAGE
    wanted = recipient.channels or tuple(ChannelKind)
    points = list(
        await session.scalars(
            select(ContactPoint).where(
                ContactPoint.user_id == user_id, ContactPoint.verified_at.is_not(None)
            )
        )
    )
    rows = []
    for channel in wanted:
        if channel is ChannelKind.IN_APP:
            rows.append(
                outbox.NewNotification(
                    channel=channel,
                    language=language,
                    user_id=user_id,
                    idempotency_key=f"{key}:{user_id}:in_app",
                    **common,
                )
            )
            continue
        if channel.value not in accepted:
            continue
        rows.extend(
            outbox.NewNotification(
                channel=channel,
                language=language,
                user_id=user_id,
                contact_point_id=point.id,
                idempotency_key=f"{key}:{user_id}:{point.id}",
                **common,
            )
            for point in points
            if point.kind == channel.value
        )
    if not rows:  # visible in the log rather than silently nothing
        rows.append(
            outbox.NewNotification(
                channel=wanted[0],
                language=language,
                user_id=user_id,
                idempotency_key=f"{key}:{user_id}:none",
                status=Delivery.SUPPRESSED,
                status_reason="no verified contact point on the requested channels",
                **common,
            )
        )
    return rows


async def on_call_for(
    *, session: AsyncSession, now: datetime, team_kinds: Sequence[str]
) -> list[tuple[str, str]]:
    """(team name, user id) of whoever is on call now in the teams of those kinds (an ED's
    on-call staff for the intake communication agent), by team name."""
    rows = (
        await session.execute(
            select(Schedule.id, Team.name)
            .join(Team, Team.id == Schedule.team_id)
            .where(Team.kind.in_(list(team_kinds)))
        )
    ).all()
    teams: dict[str, str] = {str(s): str(n) for s, n in rows}
    if not teams:
        return []
    users = await on_call_users(session=session, now=now, schedule_ids=list(teams))
    return sorted({(teams[s], u) for s, u in users.items()})


@dataclass(frozen=True, slots=True)
class DeliveryState:
    notification_id: str
    channel: str
    language: str
    status: str
    status_reason: str | None
    user_id: str | None


async def delivery_states(*, session: AsyncSession, idempotency_key: str) -> list[DeliveryState]:
    """Where the notifications queued under `idempotency_key` stand (queued, sent, delivered,
    failed, suppressed...), one per recipient and channel; no address or content."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.idempotency_key.startswith(f"{idempotency_key}:", autoescape=True))
        .order_by(Notification.created_at, Notification.id)
    )
    return [
        DeliveryState(
            notification_id=n.id,
            channel=n.channel,
            language=n.language,
            status=n.status,
            status_reason=n.status_reason,
            user_id=n.user_id,
        )
        for n in rows
    ]
