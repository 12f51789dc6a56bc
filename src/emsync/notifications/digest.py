"""Digests: what rate limits held back for a person on a channel goes out as one message once
it has waited a whole rate window, instead of one message per alert."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.events import Event
from emsync.core.ids import new_id
from emsync.notifications import outbox
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.events import NotificationStatusChanged
from emsync.notifications.lifecycle import Delivery
from emsync.notifications.models import Notification
from emsync.notifications.templates import CATALOGUE


def due(now: datetime, window: timedelta) -> ColumnElement[bool]:
    """A held notification of a person that has waited a whole window: its group's digest is
    due (write_due groups by person, channel and contact point; the oldest decides)."""
    return (
        (Notification.status == Delivery.HELD.value)
        & Notification.user_id.is_not(None)
        & (Notification.updated_at <= now - window)
    )


async def write_due(
    *, session: AsyncSession, keyring: Keyring, window: timedelta, now: datetime
) -> list[Event]:
    held = list(
        await session.scalars(
            select(Notification)
            .where(Notification.status == Delivery.HELD.value)
            .order_by(Notification.updated_at)
        )
    )
    groups: dict[tuple[str, str, str | None], list[Notification]] = {}
    for row in held:
        if row.user_id is None:
            continue
        groups.setdefault((row.user_id, row.channel, row.contact_point_id), []).append(row)
    events: list[Event] = []
    for (user_id, channel, point_id), rows in groups.items():
        if now - rows[0].updated_at < window:
            continue  # the first one held has not waited a whole window yet
        counts = Counter(
            CATALOGUE[r.template].description if r.template in CATALOGUE else r.template
            for r in rows
        )
        subjects = "; ".join(f"{what} x{n}" for what, n in counts.most_common(5))
        digest_id = new_id()
        await outbox.add(
            session,
            keyring,
            outbox.NewNotification(
                channel=ChannelKind(channel),
                template="digest",
                language=rows[-1].language,
                data={"count": len(rows), "subjects": subjects},
                idempotency_key=f"digest:{user_id}:{channel}:{point_id}:{rows[0].id}",
                user_id=user_id,
                contact_point_id=point_id,
                subject_kind="digest",
                subject_id=digest_id,
            ),
            now,
        )
        for row in rows:
            row.status, row.digest_id, row.updated_at = Delivery.DIGESTED.value, digest_id, now
            row.status_reason = "sent in a digest"
            events.append(
                NotificationStatusChanged(
                    notification_id=row.id,
                    page_id=row.page_id,
                    user_id=row.user_id,
                    channel=row.channel,
                    status=row.status,
                    attempts=row.attempts,
                    at=now,
                )
            )
    await session.flush()
    return events
