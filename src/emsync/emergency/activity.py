"""The operational activity log (the seed's "logs"): who did what, when, to which incident,
resource, shelter, item or alert. Written in the same transaction as the change it records;
distinct from the security audit log, which records every request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.emergency.models import Activity

SUBJECTS = ("incident", "resource", "shelter", "item", "location", "alert", "person", "request")


def record(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    subject: str,
    subject_id: str,
    action: str,
    detail: str = "",
) -> None:
    session.add(
        Activity(
            at=at,
            actor=actor,
            subject_kind=subject,
            subject_id=subject_id,
            action=action,
            detail=detail[:500],
        )
    )


async def entries(
    *, session: AsyncSession, subject: str, subject_id: str | None, limit: int = 200
) -> Sequence[Activity]:
    query = select(Activity).where(Activity.subject_kind == subject)
    if subject_id is not None:
        query = query.where(Activity.subject_id == subject_id)
    return (await session.scalars(query.order_by(Activity.id.desc()).limit(limit))).all()
