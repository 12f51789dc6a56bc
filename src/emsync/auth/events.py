"""Auth events: an account's standing changed, so its live sessions must be looked at again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountChanged(Event):
    """A user was deactivated or changed role, hospital or password, or an API key revoked.

    Every process drops its cached state of the account and closes its WebSocket sessions."""

    name: ClassVar[str] = "auth.account_changed"
    principal_id: str
    kind: str  # "user" or "api_key"
    reason: str
