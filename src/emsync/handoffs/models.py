"""Handoff tables. Clinical content (the ATMIST record, updates, attachments, crew) is stored only
sealed for the receiving hospital (see sealing.py); plaintext columns are routing metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class HospitalKey(Base):
    """One generation of a hospital's X25519 key pair; the highest version is active."""

    __tablename__ = "handoff_hospital_keys"
    __table_args__ = (UniqueConstraint("hospital_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hospital_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # Sealed under the master keyring, associated data "handoff_hospital_key:<id>".
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class HospitalFeed(Base):
    """The per-hospital delivery counter; its row lock orders the hospital's outbox."""

    __tablename__ = "handoff_feeds"

    hospital_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigId, default=0)


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    incident_id: Mapped[str] = mapped_column(String(36), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    unit_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    hospital_id: Mapped[str] = mapped_column(String(64), index=True)
    acuity: Mapped[int | None] = mapped_column(Integer, default=None)
    eta: Mapped[datetime | None] = mapped_column(default=None)
    key_id: Mapped[str] = mapped_column(ForeignKey("handoff_hospital_keys.id"))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The ATMIST record, crew and NEWS2, sealed with the data key.
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    last_update_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Rows in handoff_attachments: a handoff without any is read without selecting them.
    attachment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class HandoffUpdate(Base):
    """Append-only log of what happened to a handoff after it was created: never updated."""

    __tablename__ = "handoff_updates"
    __table_args__ = (UniqueConstraint("handoff_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    # For kind "status": the move, plaintext (routing metadata, not clinical content).
    status_from: Mapped[str | None] = mapped_column(String(20), default=None)
    status_to: Mapped[str | None] = mapped_column(String(20), default=None)
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class HandoffAttachment(Base):
    __tablename__ = "handoff_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handoff_id: Mapped[str] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    media_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    # The file name and the bytes, sealed with the handoff's data key.
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class OutboxEntry(Base):
    """What a hospital must receive, in order: seq is per hospital and has no gaps."""

    __tablename__ = "handoff_outbox"
    __table_args__ = (UniqueConstraint("hospital_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hospital_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigId)
    handoff_id: Mapped[str] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    # The handoff's update seq this entry carries (an update) or includes up to (a snapshot).
    update_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Routing metadata only (status, ETA, acuity); clinical content is read sealed at delivery.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


class FeedCursor(Base):
    """The last seq a hospital client has acknowledged: it resumes from here."""

    __tablename__ = "handoff_feed_cursors"

    hospital_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    acked_seq: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[datetime]
