"""Auth's reactions: an account change reaches every process and every live session."""

from __future__ import annotations

from typing import Any

import structlog

from emsync.auth.events import AccountChanged
from emsync.auth.freshness import ACCOUNTS_CHANNEL, AccountStates
from emsync.core.realtime import Hub

log = structlog.get_logger("emsync.auth")


def broadcast_account_change(hub: Hub) -> Any:
    """AccountChanged → the hub's `accounts` control channel: this process and, through the
    fan-out, every other one apply it (`apply_account_change`)."""

    async def broadcast(event: AccountChanged) -> None:
        hub.publish(ACCOUNTS_CHANNEL, event.name, {"principal_id": event.principal_id})

    return broadcast


def apply_account_change(states: AccountStates, hub: Hub) -> Any:
    """Forget the account's cached state and close its WebSocket sessions, at once."""

    def apply(_type: str, data: Any) -> None:
        principal_id = data.get("principal_id") if isinstance(data, dict) else None
        if not isinstance(principal_id, str):
            return
        states.invalidate(principal_id)
        closed = hub.end_sessions(principal_id, "the account changed; log in again")
        if closed:
            log.info("sessions of a changed account closed", count=closed)

    return apply
