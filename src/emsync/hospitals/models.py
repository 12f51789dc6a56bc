"""Hospitals: where they are, what they can treat, and whether their ED takes ambulances now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base


class Hospital(Base):
    __tablename__ = "hospitals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Where the map knows it from (None for hospitals entered by hand).
    osm_kind: Mapped[str | None] = mapped_column(String(10), default=None)
    osm_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    emergency_department: Mapped[bool | None] = mapped_column(Boolean, default=None)
    trauma_level: Mapped[int | None] = mapped_column(Integer, default=None)
    stroke_centre: Mapped[bool] = mapped_column(Boolean, default=False)
    pci: Mapped[bool] = mapped_column(Boolean, default=False)
    burns: Mapped[bool] = mapped_column(Boolean, default=False)
    paediatrics: Mapped[bool] = mapped_column(Boolean, default=False)
    ed_beds_available: Mapped[int | None] = mapped_column(Integer, default=None)
    diversion: Mapped[bool] = mapped_column(Boolean, default=False)
    diversion_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("osm_kind", "osm_id", name="uq_hospitals_osm"),)
    __mapper_args__ = {"version_id_col": version}
