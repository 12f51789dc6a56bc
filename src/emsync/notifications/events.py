"""Notification events: pages opening, escalating, acknowledged and closed, and the delivery
status of each notification. Ids and routing metadata only, never message content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class PageEvent(Event):
    page_id: str
    trigger: str
    subject_kind: str
    subject_id: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PageOpened(PageEvent):
    name: ClassVar[str] = "notifications.page_opened"


@dataclass(frozen=True, slots=True, kw_only=True)
class PageEscalated(PageEvent):
    """A step of the policy fired: `step` is 1-based; `targets` says whom it went to."""

    name: ClassVar[str] = "notifications.page_escalated"
    step: int
    targets: str
    recipients: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PageAcknowledged(PageEvent):
    """Someone took the page (dashboard, e-mail/SMS link, SMS reply): escalation stopped."""

    name: ClassVar[str] = "notifications.page_acknowledged"
    by: str  # "user:<id>"
    via: str  # dashboard, link, sms_reply, source


@dataclass(frozen=True, slots=True, kw_only=True)
class PageClosed(PageEvent):
    """The cause went away (resolved) or every step fired unanswered (exhausted)."""

    name: ClassVar[str] = "notifications.page_closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationStatusChanged(Event):
    name: ClassVar[str] = "notifications.status_changed"
    notification_id: str
    page_id: str | None
    user_id: str | None
    channel: str
    status: str
    attempts: int
    at: datetime


ALL_EVENTS: tuple[type[Event], ...] = (
    PageOpened,
    PageEscalated,
    PageAcknowledged,
    PageClosed,
    NotificationStatusChanged,
)
