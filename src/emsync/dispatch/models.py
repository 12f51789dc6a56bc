"""Units (ambulances), their status history, and the trips recorded for ETA calibration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_sign: Mapped[str] = mapped_column(String(32), unique=True)
    unit_type: Mapped[str] = mapped_column(String(3))
    station_name: Mapped[str | None] = mapped_column(String(100), default=None)
    station_lat: Mapped[float] = mapped_column(Float)
    station_lon: Mapped[float] = mapped_column(Float)
    crew: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The telemetry device whose `position` messages move this unit.
    device_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_changed_at: Mapped[datetime]
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    position_at: Mapped[datetime | None] = mapped_column(default=None)
    speed_mps: Mapped[float | None] = mapped_column(Float, default=None)
    heading: Mapped[float | None] = mapped_column(Float, default=None)
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True, default=None
    )
    hospital_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class UnitStatusEntry(Base):
    __tablename__ = "unit_status_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    old: Mapped[str] = mapped_column(String(20))
    new: Mapped[str] = mapped_column(String(20))
    incident_id: Mapped[str | None] = mapped_column(String(36), default=None)
    actor: Mapped[str] = mapped_column(String(100))


class Trip(Base):
    """One drive whose ETA was predicted: to the scene (response) or to hospital (transport)."""

    __tablename__ = "dispatch_trips"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(String(36), default=None)
    kind: Mapped[str] = mapped_column(String(10))  # response | transport
    region: Mapped[str] = mapped_column(String(100))
    origin_lat: Mapped[float] = mapped_column(Float)
    origin_lon: Mapped[float] = mapped_column(Float)
    dest_lat: Mapped[float] = mapped_column(Float)
    dest_lon: Mapped[float] = mapped_column(Float)
    predicted_s: Mapped[float] = mapped_column(Float)
    # Predicted seconds per road class under the uncalibrated profile: {"primary": 41.2, ...}.
    class_seconds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    actual_s: Mapped[float | None] = mapped_column(Float, default=None)
    state: Mapped[str] = mapped_column(String(10), default="open")  # open|completed|abandoned

    __table_args__ = (Index("ix_dispatch_trips_unit_state", "unit_id", "state"),)


class CrewSignOn(Base):
    """A crew member's account signed on to a unit for the shift: the crew view acts for it."""

    __tablename__ = "crew_sign_ons"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    signed_on_at: Mapped[datetime]
