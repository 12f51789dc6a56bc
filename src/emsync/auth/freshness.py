"""Authorisation freshness (issue #14, item 2): a credential is honoured only while the account
behind it is as it was when the credential was issued.

Every request and every WebSocket delivery asks `AccountStates.stale_reason`. The answer comes
from a per-process cache: a change (deactivation, role, hospital, password, API key revocation)
invalidates it in this process at once and in the others through the hub's `accounts` control
channel (Redis fan-out in the scale profile). `principal_cache_seconds` bounds how long an entry
is trusted without an invalidation: the backstop for changes made outside the running servers
(`emsync users set-password` from a shell) and for a Redis outage.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emsync.auth.models import ApiKey, User
from emsync.auth.principal import Principal

# The hub channel on which processes tell each other that an account changed (never a client's).
ACCOUNTS_CHANNEL = "accounts"


@dataclass(frozen=True, slots=True)
class AccountState:
    active: bool
    role: str
    hospital_id: str | None
    version: int


class AccountStates:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl_seconds: float,
        capacity: int = 50_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._monotonic = monotonic
        self._cache: OrderedDict[str, tuple[float, AccountState | None]] = OrderedDict()
        self.lookups = 0  # database reads, for tests and the benchmark

    def invalidate(self, principal_id: str) -> None:
        self._cache.pop(principal_id, None)

    async def state(self, principal: Principal) -> AccountState | None:
        """The account's current state (None: it no longer exists)."""
        now = self._monotonic()
        hit = self._cache.get(principal.id)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        state = await self._read(principal)
        self._cache[principal.id] = (now, state)
        self._cache.move_to_end(principal.id)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return state

    async def _read(self, principal: Principal) -> AccountState | None:
        self.lookups += 1
        async with self._sessions() as session:
            if principal.kind == "api_key":
                key = (
                    await session.execute(
                        select(ApiKey.revoked_at, ApiKey.role, ApiKey.hospital_id).where(
                            ApiKey.id == principal.id
                        )
                    )
                ).first()
                if key is None:
                    return None
                return AccountState(key[0] is None, key[1], key[2], 0)
            row = (
                await session.execute(
                    select(User.active, User.role, User.hospital_id, User.auth_version).where(
                        User.id == principal.id
                    )
                )
            ).first()
        if row is None:
            return None
        return AccountState(bool(row[0]), row[1], row[2], int(row[3]))

    async def stale_reason(self, principal: Principal) -> str | None:
        """Why `principal`'s credential no longer stands, or None while it does."""
        state = await self.state(principal)
        return stale_reason(principal, state)


def stale_reason(principal: Principal, state: AccountState | None) -> str | None:
    if state is None:
        return "the account no longer exists"
    if not state.active:
        return "the account is deactivated" if principal.kind == "user" else "the key is revoked"
    if principal.kind == "user" and state.version != principal.version:
        return "the account changed (role, hospital or password); log in again"
    if state.role != principal.role.value or state.hospital_id != principal.hospital_id:
        return "the account's role or hospital changed; log in again"
    return None
