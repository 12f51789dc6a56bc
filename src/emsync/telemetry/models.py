"""Devices, their keys, stored readings and clinical alerts.

Readings keep in clear only what indexing and idempotency need (device, key id, counter, patient,
time); every measured value is inside `sealed` (AES-256-GCM under the master keyring). Device
keys are stored wrapped under the master keyring too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Device(Base):
    __tablename__ = "telemetry_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(100), default=None)
    algorithm: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    incident_id: Mapped[str | None] = mapped_column(String(36), default=None)
    unit_id: Mapped[str | None] = mapped_column(String(36), default=None)
    spo2_scale: Mapped[int] = mapped_column(Integer, default=1)
    active_key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    bound_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class DeviceKey(Base):
    __tablename__ = "telemetry_device_keys"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("telemetry_devices.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    algorithm: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    # Set on rotation: the old key is accepted until then (the grace period), then refused.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class StoredReading(Base):
    __tablename__ = "telemetry_readings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int] = mapped_column(Integer)
    # The envelope counter is uint64; stored shifted by -2**63 so it fits a signed BIGINT and
    # keeps its order.
    counter: Mapped[int] = mapped_column(BigInteger)
    idx: Mapped[int] = mapped_column(Integer)  # position inside a batch message
    kind: Mapped[str] = mapped_column(String(10))
    patient_id: Mapped[str | None] = mapped_column(String(36), default=None)
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint("device_id", "key_id", "counter", "idx", name="uq_telemetry_readings_msg"),
        Index("ix_telemetry_readings_patient_ts", "patient_id", "ts"),
    )


class StoredRiskScore(Base):
    """A live deterioration score as pushed (telemetry.live_risk): the patient and time in clear
    for the history's index, the score itself sealed like the readings it was computed from."""

    __tablename__ = "telemetry_risk_scores"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[str] = mapped_column(String(36))
    ts: Mapped[datetime]
    model_version: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime]
    sealed: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        # A score re-written after a failed flush, or by a second process, is one row.
        UniqueConstraint("patient_id", "ts", "model_version", name="uq_telemetry_risk_scores"),
        Index("ix_telemetry_risk_scores_ts", "ts"),
    )


class Alert(Base):
    __tablename__ = "telemetry_alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # "" for patient-wide alerts (NEWS2); the device id for a stale-data alert.
    scope: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    raised_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    cleared_at: Mapped[datetime | None] = mapped_column(default=None)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to: Mapped[str | None] = mapped_column(String(32), default=None)
    escalate_at: Mapped[datetime | None] = mapped_column(default=None)
    detail_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)

    __table_args__ = (
        # One open alert per patient, kind and scope: the database refuses a second one.
        Index(
            "ux_telemetry_alerts_open",
            "patient_id",
            "kind",
            "scope",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
    )
