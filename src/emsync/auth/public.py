"""What other domains may call in auth, inside their own transaction: the user directory
(names and roles, never credentials) and who is signed in. Notifications uses them to page by
role, to show names in on-call schedules, and to honour "no notifications after logout"."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.models import RefreshToken, User


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    id: str
    username: str
    role: str
    active: bool


async def user_directory(
    *, session: AsyncSession, user_ids: Collection[str] | None = None
) -> list[DirectoryEntry]:
    query = select(User.id, User.username, User.role, User.active).order_by(User.username)
    if user_ids is not None:
        query = query.where(User.id.in_(list(user_ids)))
    rows = await session.execute(query)
    return [DirectoryEntry(id=i, username=u, role=r, active=a) for i, u, r, a in rows.all()]


async def active_users_with_role(*, session: AsyncSession, role: str) -> list[str]:
    rows = await session.scalars(select(User.id).where(User.role == role, User.active.is_(True)))
    return list(rows)


async def signed_in(*, session: AsyncSession, user_ids: Collection[str], now: datetime) -> set[str]:
    """Those of `user_ids` holding a live session: an unused, unrevoked, unexpired refresh
    token (logging out revokes the family; an idle session expires with its token)."""
    if not user_ids:
        return set()
    rows = await session.scalars(
        select(RefreshToken.user_id)
        .where(
            RefreshToken.user_id.in_(list(user_ids)),
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .distinct()
    )
    return set(rows)
