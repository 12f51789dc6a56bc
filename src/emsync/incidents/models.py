"""Incidents, their timeline and their patients. Fields that identify a person (caller name,
callback number, patient name, free-text notes) are stored sealed with the master keyring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[int] = mapped_column(Integer, index=True)
    chief_complaint: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    mci: Mapped[bool] = mapped_column(Boolean, default=False)
    caller_name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    callback_number_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    notes_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # ClinicalFindings as JSON: what the destination rules read beside the complaint.
    findings_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class IncidentTimelineEntry(Base):
    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    # What changed, never the personal values themselves (those are sealed on the incident).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(20))
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    age_years: Mapped[int | None] = mapped_column(Integer, default=None)
    sex: Mapped[str | None] = mapped_column(String(10), default=None)
    acuity: Mapped[int | None] = mapped_column(Integer, default=None)
    news2: Mapped[int | None] = mapped_column(Integer, default=None)
    triage_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    triaged_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]


class IncidentDestination(Base):
    """Which hospital a patient of the incident is on the way to, by what says so (a unit's
    chosen destination, a handoff). Scopes what hospital staff may read (issue #14 item 10);
    kept from dispatch's and handoffs' events, since incidents never read their tables."""

    __tablename__ = "incident_destinations"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(80), primary_key=True)  # "unit:<id>", "handoff:<id>"
    hospital_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]
