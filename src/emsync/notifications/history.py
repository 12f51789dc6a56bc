"""The notification log: pages per alert or handoff, each notification with every attempt, and
a person's in-app inbox. Reads only."""

from __future__ import annotations

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.public import user_directory
from emsync.core.crypto import Keyring
from emsync.core.errors import NotFound
from emsync.notifications import outbox
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.models import Attempt, ContactPoint, Notification, Page
from emsync.notifications.schemas import AttemptRead, InboxItem, NotificationRead, PageRead
from emsync.notifications.templates import TemplateError, render


async def _notification_reads(
    session: AsyncSession, rows: list[Notification]
) -> list[NotificationRead]:
    ids = [r.id for r in rows]
    attempts: dict[str, list[AttemptRead]] = {}
    for a in await session.scalars(
        select(Attempt).where(Attempt.notification_id.in_(ids)).order_by(Attempt.at, Attempt.number)
    ):
        attempts.setdefault(a.notification_id, []).append(
            AttemptRead(
                number=a.number,
                at=a.at,
                outcome=a.outcome,
                detail=a.detail,
                duration_ms=a.duration_ms,
            )
        )
    point_ids = {r.contact_point_id for r in rows if r.contact_point_id}
    masked = {
        p.id: p.masked
        for p in await session.scalars(select(ContactPoint).where(ContactPoint.id.in_(point_ids)))
    }
    names = {
        e.id: e.username
        for e in await user_directory(
            session=session, user_ids={r.user_id for r in rows if r.user_id}
        )
    }
    return [
        NotificationRead(
            id=r.id,
            page_id=r.page_id,
            step=r.step,
            user_id=r.user_id,
            username=names.get(r.user_id) if r.user_id else None,
            channel=ChannelKind(r.channel),
            destination=masked.get(r.contact_point_id or "")
            or ("dashboard" if r.channel == ChannelKind.IN_APP.value else None),
            template=r.template,
            language=r.language,
            status=r.status,
            status_reason=r.status_reason,
            attempts=r.attempts,
            provider_id=r.provider_id,
            created_at=r.created_at,
            sent_at=r.sent_at,
            delivered_at=r.delivered_at,
            next_attempt_at=r.next_attempt_at,
            attempt_log=attempts.get(r.id, []),
        )
        for r in rows
    ]


def _page_read(
    page: Page, notifications: list[NotificationRead], names: dict[str, str] | None = None
) -> PageRead:
    by = (page.acknowledged_by or "").removeprefix("user:")
    return PageRead(
        id=page.id,
        trigger=page.trigger,
        subject_kind=page.subject_kind,
        subject_id=page.subject_id,
        policy_name=page.policy_name,
        status=page.status,
        steps_done=page.steps_done,
        steps_total=len(page.policy.get("steps", [])),
        next_step_at=page.next_step_at,
        occurrences=page.occurrences,
        opened_at=page.opened_at,
        acknowledged_at=page.acknowledged_at,
        acknowledged_by=page.acknowledged_by,
        acknowledged_by_name=(names or {}).get(by),
        acknowledged_via=page.acknowledged_via,
        resolved_at=page.resolved_at,
        notifications=notifications,
    )


async def list_pages(
    *,
    session: AsyncSession,
    subject_kind: str | None,
    subject_id: str | None,
    status: str | None,
    limit: int,
) -> list[PageRead]:
    query = select(Page).order_by(Page.opened_at.desc()).limit(limit)
    if subject_kind is not None:
        query = query.where(Page.subject_kind == subject_kind)
    if subject_id is not None:
        query = query.where(Page.subject_id == subject_id)
    if status is not None:
        query = query.where(Page.status == status)
    pages = list(await session.scalars(query))
    rows = list(
        await session.scalars(
            select(Notification)
            .where(Notification.page_id.in_([p.id for p in pages]))
            .order_by(Notification.created_at)
        )
    )
    reads = await _notification_reads(session, rows)
    by_page: dict[str, list[NotificationRead]] = {}
    for read in reads:
        by_page.setdefault(read.page_id or "", []).append(read)
    names = await _ack_names(session, pages)
    return [_page_read(p, by_page.get(p.id, []), names) for p in pages]


async def _ack_names(session: AsyncSession, pages: list[Page]) -> dict[str, str]:
    ids = {(p.acknowledged_by or "").removeprefix("user:") for p in pages if p.acknowledged_by}
    return {e.id: e.username for e in await user_directory(session=session, user_ids=ids)}


async def get_page(*, session: AsyncSession, page_id: str) -> PageRead:
    page = await session.get(Page, page_id)
    if page is None:
        raise NotFound(f"page {page_id} does not exist")
    rows = list(
        await session.scalars(
            select(Notification)
            .where(Notification.page_id == page_id)
            .order_by(Notification.created_at)
        )
    )
    names = await _ack_names(session, [page])
    return _page_read(page, await _notification_reads(session, rows), names)


async def list_notifications(
    *, session: AsyncSession, subject_id: str | None, user_id: str | None, limit: int
) -> list[NotificationRead]:
    query = select(Notification).order_by(Notification.created_at.desc()).limit(limit)
    if subject_id is not None:
        query = query.where(Notification.subject_id == subject_id)
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    return await _notification_reads(session, list(await session.scalars(query)))


async def inbox(
    *, session: AsyncSession, keyring: Keyring, links: outbox.Links, user_id: str, limit: int
) -> list[InboxItem]:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.user_id == user_id, Notification.channel == ChannelKind.IN_APP.value)
        .order_by(Notification.created_at.desc())
        .limit(limit)
    )
    items = []
    for row in rows:
        data = orjson.loads(keyring.open(row.data_sealed, aad=outbox.data_aad(row.id)))
        try:
            text = render(
                row.template,
                language=row.language,
                channel=ChannelKind.IN_APP,
                data=data,
                links={"dashboard": links.dashboard(row.subject_kind, row.subject_id)},
            )
        except TemplateError:
            continue
        items.append(
            InboxItem(
                id=row.id,
                page_id=row.page_id,
                subject=text.subject,
                text=text.text,
                status=row.status,
                created_at=row.created_at,
            )
        )
    return items
