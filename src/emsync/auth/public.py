"""What other domains may call in auth, inside their own transaction: the user directory
(names and roles, never credentials), who is signed in, and the names behind audit actors.
Notifications uses them to page by role, to show names in on-call schedules, and to honour "no
notifications after logout"; the activity and audit logs to show who acted by name."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.models import ApiKey, RefreshToken, User


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


async def actor_names(*, session: AsyncSession, actors: Collection[str]) -> dict[str, str]:
    """The person's or API key's name behind each audit actor ("user:<id>", "api_key:<id>");
    actors that name no account ("login:<name>", "system", a deleted user) are left out."""
    ids: dict[str, set[str]] = {"user": set(), "api_key": set()}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind in ids and ident:
            ids[kind].add(ident)
    names: dict[str, str] = {}
    if ids["user"]:
        rows = await session.execute(
            select(User.id, User.username).where(User.id.in_(list(ids["user"])))
        )
        names.update({f"user:{i}": u for i, u in rows.all()})
    if ids["api_key"]:
        rows = await session.execute(
            select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(list(ids["api_key"])))
        )
        names.update({f"api_key:{i}": f"API key {n}" for i, n in rows.all()})
    return names
