"""Who is making a request: a user (JWT) or a machine (API key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from emsync.auth.permissions import Perm, Role, allows


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    role: Role
    kind: Literal["user", "api_key"]
    hospital_id: str | None = None
    # The account's version the credential was issued under (users): a change of role,
    # hospital, password or active flag bumps it, and older tokens stop working (issue #14).
    version: int | None = None
    # When the credential stops being valid (access tokens); None for API keys.
    expires_at: datetime | None = None
    # The ambulance unit a crew member belongs to (users only; issue #23).
    unit_id: str | None = None

    def can(self, perm: Perm) -> bool:
        return allows(self.role, perm)

    @property
    def audit_name(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class CanSubscribe:
    """A WebSocket channel's check: the principal's role has `permission` (the hub runs it
    against the account's current state, and again when that state changes)."""

    permission: Perm

    async def __call__(self, principal: Principal, _arg: str | None) -> bool:
        return principal.can(self.permission)
