"""Contact points, preferences, teams, on-call schedules, escalation policies, pages (an
escalation in progress) and the notification outbox with its delivery attempts.

Addresses (e-mail, phone numbers, push subscriptions, webhook secrets) and message data are
personal data: sealed under the master keyring, with a keyed digest of the address for lookup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base


class ContactPoint(Base):
    __tablename__ = "notify_contact_points"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(100))
    address_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    address_digest: Mapped[str] = mapped_column(String(64), index=True)
    masked: Mapped[str] = mapped_column(String(200))
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # webhooks
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    code_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    code_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class Preference(Base):
    __tablename__ = "notify_preferences"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    channels: Mapped[list[str]] = mapped_column(JSON)  # channels this person accepts
    quiet_off_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    mute_after_logout: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class Team(Base):
    __tablename__ = "notify_teams"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class Schedule(Base):
    __tablename__ = "notify_schedules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    team_id: Mapped[str] = mapped_column(
        ForeignKey("notify_teams.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    rotation_start: Mapped[datetime]
    shift_seconds: Mapped[int] = mapped_column(Integer)
    members: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Override(Base):
    __tablename__ = "notify_overrides"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("notify_schedules.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(36))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Policy(Base):
    __tablename__ = "notify_policies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    triggers: Mapped[list[str]] = mapped_column(JSON)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    repeat_after_seconds: Mapped[int] = mapped_column(Integer, default=300)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Page(Base):
    """One escalation in progress: opened in the transaction of its cause, advanced by the
    worker step by step until someone acknowledges it or its cause resolves."""

    __tablename__ = "notify_pages"
    __table_args__ = (Index("ix_notify_pages_due", "status", "next_step_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    trigger: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    group_key: Mapped[str] = mapped_column(String(200), index=True)
    template: Mapped[str] = mapped_column(String(64))
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    policy_id: Mapped[str | None] = mapped_column(String(36), default=None)
    policy_name: Mapped[str] = mapped_column(String(100))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)  # snapshot: edits don't move it
    status: Mapped[str] = mapped_column(String(16))
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None] = mapped_column(default=None)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), default=None)
    acknowledged_via: Mapped[str | None] = mapped_column(String(32), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class Notification(Base):
    """The outbox: one message to one address on one channel, delivered by the worker."""

    __tablename__ = "notify_notifications"
    __table_args__ = (
        Index("ix_notify_notifications_due", "status", "next_attempt_at"),
        Index("ix_notify_notifications_user_sent", "user_id", "sent_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    page_id: Mapped[str | None] = mapped_column(
        ForeignKey("notify_pages.id", ondelete="CASCADE"), index=True, default=None
    )
    step: Mapped[int | None] = mapped_column(Integer, default=None)
    user_id: Mapped[str | None] = mapped_column(String(36), default=None)
    contact_point_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # An address outside the contact points (a relative's phone, a public-alert webhook).
    address_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    subject_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True, default=None)
    reply_code: Mapped[str | None] = mapped_column(String(8), default=None)
    ack_token_id: Mapped[str | None] = mapped_column(String(40), default=None)
    digest_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class Attempt(Base):
    __tablename__ = "notify_attempts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notification_id: Mapped[str] = mapped_column(
        ForeignKey("notify_notifications.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # sent, retry, failed, delivered, ...
    detail: Mapped[str] = mapped_column(Text, default="")  # provider/error text, never content
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)


class AckToken(Base):
    """A signed one-time acknowledgement link's server side: whose, for which page, until when."""

    __tablename__ = "notify_ack_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    page_id: Mapped[str] = mapped_column(ForeignKey("notify_pages.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class InboundMessage(Base):
    """An SMS reply, kept once per provider message id (providers retry their callbacks)."""

    __tablename__ = "notify_inbound"

    provider_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    from_digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(200))
