"""The hospital's feed: catching up on its outbox after a cursor, and acknowledging it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.crypto import Keyring
from emsync.core.errors import ValidationFailed
from emsync.core.uow import UnitOfWork
from emsync.handoffs.lifecycle import HandoffStatus, Side
from emsync.handoffs.models import (
    FeedCursor,
    HospitalFeed,
    OutboxEntry,
)
from emsync.handoffs.outbox import commit, entry_read
from emsync.handoffs.reads import Viewer, check_feed_access, load_handoff
from emsync.handoffs.schemas import (
    FeedPage,
)
from emsync.handoffs.transitions import move

S = HandoffStatus


async def read_feed(
    *,
    session: AsyncSession,
    keyring: Keyring,
    hospital_id: str,
    after_seq: int | None,
    client_id: str | None,
    limit: int,
    viewer: Viewer,
) -> FeedPage:
    """Entries after `after_seq` (or after the client's acknowledged cursor), oldest first."""
    check_feed_access(viewer, hospital_id)
    if after_seq is None:
        after_seq = 0
        if client_id is not None:
            cursor = await session.get(FeedCursor, (hospital_id, client_id))
            after_seq = cursor.acked_seq if cursor else 0
    rows = (
        await session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.hospital_id == hospital_id, OutboxEntry.seq > after_seq)
            .order_by(OutboxEntry.seq)
            .limit(limit)
        )
    ).all()
    feed = await session.get(HospitalFeed, hospital_id)
    return FeedPage(
        hospital_id=hospital_id,
        entries=[await entry_read(session, keyring, r, viewer) for r in rows],
        last_seq=feed.last_seq if feed else 0,
    )


async def ack_feed(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    hospital_id: str,
    client_id: str,
    seq: int,
    viewer: Viewer,
    now: datetime,
) -> int:
    """Record a client's cursor; handoffs whose delivery it covers become `delivered`."""
    check_feed_access(viewer, hospital_id)
    session = uow.session
    feed = await session.get(HospitalFeed, hospital_id)
    last = feed.last_seq if feed else 0
    if seq > last:
        raise ValidationFailed(
            f"seq {seq} is beyond the feed's last entry {last}",
            errors=[{"field": "body.seq", "message": f"must be at most {last}"}],
        )
    cursor = await session.get(FeedCursor, (hospital_id, client_id), with_for_update=True)
    previous = cursor.acked_seq if cursor else 0
    if cursor is None:
        cursor = FeedCursor(
            hospital_id=hospital_id, client_id=client_id, acked_seq=seq, updated_at=now
        )
        session.add(cursor)
    elif seq > cursor.acked_seq:
        cursor.acked_seq, cursor.updated_at = seq, now
    if seq > previous:
        ids = (
            await session.scalars(
                select(OutboxEntry.handoff_id).where(
                    OutboxEntry.hospital_id == hospital_id,
                    OutboxEntry.kind == "handoff",
                    OutboxEntry.seq > previous,
                    OutboxEntry.seq <= seq,
                )
            )
        ).all()
        for handoff_id in dict.fromkeys(ids):
            handoff = await load_handoff(session, handoff_id, lock=True)
            if handoff.hospital_id == hospital_id and S(handoff.status) in (S.SENT, S.REDIRECTED):
                uow.record(await move(uow, handoff, S.DELIVERED, Side.HOSPITAL, viewer.actor, now))
    await commit(uow, keyring)
    return max(seq, previous)
