"""The one interface every channel implements, what it is given and what it answers, and the
in-app channel (the WebSocket hub). The network channels live in smtp.py, sms.py, webpush.py
and webhooks.py; the worker knows them only through `Channel`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from emsync.core.realtime import Hub
from emsync.notifications.escalation import ChannelKind


@dataclass(frozen=True, slots=True)
class Outgoing:
    notification_id: str
    idempotency_key: str  # the provider's idempotency key, Message-ID, webhook-id, push Topic
    channel: ChannelKind
    address: str  # normalized: e-mail, E.164, webhook URL, push subscription JSON, user id
    subject: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)  # structured: push, webhook, in-app
    secret: str | None = None  # the webhook's signing secret


@dataclass(frozen=True, slots=True)
class Accepted:
    provider_id: str | None = None
    delivered: bool = False  # the channel itself confirms delivery (in-app to a live client)
    detail: str = ""


class DeliveryError(Exception):
    """The attempt failed. `permanent`: retrying cannot help (bad address, refused content)."""

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail[:500]
        self.permanent = permanent


class Channel(Protocol):
    kind: ChannelKind

    async def send(self, message: Outgoing) -> Accepted: ...

    async def close(self) -> None: ...


def user_channel(user_id: str) -> str:
    return f"notifications:{user_id}"


class InAppChannel:
    """Pushes to the person's own WebSocket channel; the inbox keeps it for later either way."""

    kind = ChannelKind.IN_APP

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def send(self, message: Outgoing) -> Accepted:
        channel = user_channel(message.address)
        live = self._hub.subscriber_count(channel)
        self._hub.publish(
            channel,
            "notification",
            {
                "id": message.notification_id,
                "subject": message.subject,
                "text": message.text,
                **message.payload,
            },
        )
        return Accepted(delivered=live > 0, detail=f"{live} live session(s)")

    async def close(self) -> None:
        return None
