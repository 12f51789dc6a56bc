"""Auth's reactions: an account change reaches every process and every live session."""

from __future__ import annotations

from typing import Any

import structlog

from emsync.auth.events import AccountChanged
from emsync.auth.freshness import ACCOUNTS_CHANNEL, AccountStates
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime

log = structlog.get_logger("emsync.auth")


async def broadcast_account_change(runtime: Runtime, event: AccountChanged) -> None:
    """AccountChanged → the hub's `accounts` control channel: this process and, through the
    fan-out, every other one apply it (`apply_account_change`)."""
    runtime.get(Hub).publish(ACCOUNTS_CHANNEL, event.name, {"principal_id": event.principal_id})


def apply_account_change(runtime: Runtime, _type: str, data: Any) -> None:
    """Forget the account's cached state and close its WebSocket sessions, at once."""
    principal_id = data.get("principal_id") if isinstance(data, dict) else None
    if not isinstance(principal_id, str):
        return
    runtime.get(AccountStates).invalidate(principal_id)
    closed = runtime.get(Hub).end_sessions(principal_id, "the account changed; log in again")
    if closed:
        log.info("sessions of a changed account closed", count=closed)
