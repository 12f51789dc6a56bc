"""Emergency management tables: resources, personnel and shifts, shelters and evacuees, supplies
and the stock ledger, public alerts, hazard feeds, the search index and the activity log.

Invariants the database itself holds (so no code path can break them under concurrency):
shelter occupancy within capacity, stock never negative, movements append-only (triggers in the
migration), and on PostgreSQL no two shifts of one person overlapping (an exclusion
constraint; on SQLite writers are serialised and the service checks inside the transaction).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from emsync.core.db import Base

# ---- resources --------------------------------------------------------------------------------


class Resource(Base):
    """A typed resource other than an ambulance (ambulances stay dispatch's units)."""

    __tablename__ = "emergency_resources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    agency: Mapped[str] = mapped_column(String(120))
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    home_name: Mapped[str | None] = mapped_column(String(120), default=None)
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True)
    incident_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    notes: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class MutualAidRequest(Base):
    __tablename__ = "emergency_mutual_aid"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requesting_agency: Mapped[str] = mapped_column(String(120))
    providing_agency: Mapped[str] = mapped_column(String(120))
    resource_kind: Mapped[str] = mapped_column(String(30))
    quantity: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[str | None] = mapped_column(String(36), default=None)
    status: Mapped[str] = mapped_column(String(20), index=True)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    resource_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


# ---- personnel and shifts ---------------------------------------------------------------------


class Team(Base):
    __tablename__ = "emergency_teams"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class Person(Base):
    """Staff (not patients): names are operational data, shown on rosters and boards."""

    __tablename__ = "emergency_people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    username: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    agency: Mapped[str] = mapped_column(String(120))
    team_id: Mapped[str | None] = mapped_column(
        ForeignKey("emergency_teams.id", ondelete="SET NULL"), default=None
    )
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Qualification(Base):
    __tablename__ = "emergency_qualifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("emergency_people.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    number: Mapped[str | None] = mapped_column(String(60), default=None)
    expires_on: Mapped[date | None] = mapped_column(Date, default=None)

    __table_args__ = (UniqueConstraint("person_id", "kind", name="uq_emergency_qual_kind"),)


class Shift(Base):
    __tablename__ = "emergency_shifts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("emergency_people.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # The dispatch unit (ambulance) or emergency resource this person crews, if any.
    unit_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    resource_id: Mapped[str | None] = mapped_column(String(36), default=None)
    position: Mapped[str | None] = mapped_column(String(30), default=None)
    note: Mapped[str | None] = mapped_column(String(300), default=None)
    created_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="shift_positive"),
        Index("ix_emergency_shifts_window", "starts_at", "ends_at"),
    )


# ---- shelters and evacuees --------------------------------------------------------------------


class Shelter(Base):
    __tablename__ = "emergency_shelters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    address: Mapped[str | None] = mapped_column(String(200), default=None)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    capacity_beds: Mapped[int] = mapped_column(Integer)
    capacity_accessible: Mapped[int] = mapped_column(Integer, default=0)
    capacity_pets: Mapped[int] = mapped_column(Integer, default=0)
    occupied_beds: Mapped[int] = mapped_column(Integer, default=0)
    occupied_accessible: Mapped[int] = mapped_column(Integer, default=0)
    occupied_pets: Mapped[int] = mapped_column(Integer, default=0)
    amenities: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint(
            "occupied_beds >= 0 AND occupied_beds <= capacity_beds", name="beds_within"
        ),
        CheckConstraint(
            "occupied_accessible >= 0 AND occupied_accessible <= capacity_accessible",
            name="accessible_within",
        ),
        CheckConstraint(
            "occupied_pets >= 0 AND occupied_pets <= capacity_pets", name="pets_within"
        ),
    )


class Evacuee(Base):
    """A person sheltered: every personal field sealed (AES-GCM, bound to its row and column)."""

    __tablename__ = "emergency_evacuees"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    shelter_id: Mapped[str] = mapped_column(
        ForeignKey("emergency_shelters.id", ondelete="RESTRICT"), index=True
    )
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    family_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    birth_year_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    needs_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    accessible: Mapped[bool] = mapped_column(default=False)
    pets: Mapped[int] = mapped_column(Integer, default=0)
    checked_in_at: Mapped[datetime]
    checked_in_by: Mapped[str] = mapped_column(String(100))
    checked_out_at: Mapped[datetime | None] = mapped_column(default=None)
    checked_out_by: Mapped[str | None] = mapped_column(String(100), default=None)


class EvacueeToken(Base):
    """Keyed blind index of an evacuee's name and family words (HMAC-SHA256, truncated)."""

    __tablename__ = "emergency_evacuee_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evacuee_id: Mapped[str] = mapped_column(
        ForeignKey("emergency_evacuees.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[bytes] = mapped_column(LargeBinary(16), index=True)


class OccupancySample(Base):
    """Occupancy after each change: the shelter's occupancy over time."""

    __tablename__ = "emergency_shelter_occupancy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shelter_id: Mapped[str] = mapped_column(
        ForeignKey("emergency_shelters.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    beds: Mapped[int] = mapped_column(Integer)
    accessible: Mapped[int] = mapped_column(Integer)
    pets: Mapped[int] = mapped_column(Integer)


# ---- supplies and the stock ledger ------------------------------------------------------------


class StockLocation(Base):
    __tablename__ = "emergency_locations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    shelter_id: Mapped[str | None] = mapped_column(String(36), unique=True, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)


class Item(Base):
    __tablename__ = "emergency_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(60), default=None)
    min_stock: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class Stock(Base):
    """On hand now, per item, location and lot; kept by the ledger, never below zero."""

    __tablename__ = "emergency_stock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("emergency_items.id", ondelete="RESTRICT"))
    location_id: Mapped[str] = mapped_column(
        ForeignKey("emergency_locations.id", ondelete="RESTRICT"), index=True
    )
    lot: Mapped[str] = mapped_column(String(40), default="")
    expires_on: Mapped[date | None] = mapped_column(Date, default=None)
    quantity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("item_id", "location_id", "lot", name="uq_emergency_stock_place"),
        CheckConstraint("quantity >= 0", name="never_negative"),
    )


class Movement(Base):
    """The append-only ledger: every change of stock, who made it and why."""

    __tablename__ = "emergency_movements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(12))
    item_id: Mapped[str] = mapped_column(String(36), index=True)
    lot: Mapped[str] = mapped_column(String(40), default="")
    from_location_id: Mapped[str | None] = mapped_column(String(36), default=None)
    to_location_id: Mapped[str | None] = mapped_column(String(36), default=None)
    quantity: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(36), default=None)
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(300), default=None)

    __table_args__ = (CheckConstraint("quantity > 0", name="positive"),)


class SupplyRequest(Base):
    __tablename__ = "emergency_supply_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("emergency_items.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)
    to_location_id: Mapped[str] = mapped_column(ForeignKey("emergency_locations.id"))
    status: Mapped[str] = mapped_column(String(12), index=True)
    fulfilled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    needed_by: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(String(300), default=None)
    requested_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# ---- public alerts and hazard feeds -----------------------------------------------------------


class PublicAlert(Base):
    """A CAP 1.2 message as sent: its fields for the composer and its exact XML for the feed."""

    __tablename__ = "emergency_alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(200))
    sent: Mapped[datetime]
    msg_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12), index=True)
    # Each message of a chain points to its first, so "the alert" has one id over updates.
    thread_id: Mapped[str] = mapped_column(String(36), index=True)
    references: Mapped[str | None] = mapped_column(Text, default=None)
    event: Mapped[str] = mapped_column(String(120))
    headline: Mapped[str | None] = mapped_column(String(160), default=None)
    severity: Mapped[str] = mapped_column(String(10))
    urgency: Mapped[str] = mapped_column(String(10))
    certainty: Mapped[str] = mapped_column(String(10))
    expires: Mapped[datetime | None] = mapped_column(default=None)
    info: Mapped[dict[str, Any]] = mapped_column(JSON)
    xml: Mapped[str] = mapped_column(Text)
    signed: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(100))


class HazardFeed(Base):
    __tablename__ = "emergency_hazard_feeds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(10))
    last_fetched_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime]


class HazardFeature(Base):
    __tablename__ = "emergency_hazard_features"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed_id: Mapped[str] = mapped_column(
        ForeignKey("emergency_hazard_feeds.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str | None] = mapped_column(String(30), default=None)
    at: Mapped[datetime | None] = mapped_column(default=None)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("feed_id", "external_id", name="uq_emergency_hazard"),)


# ---- search and the activity log --------------------------------------------------------------


class SearchDoc(Base):
    """One searchable record. PostgreSQL adds a generated tsvector and a trigram index; SQLite
    an FTS5 table kept in step by triggers (see the migration), both in the writer's
    transaction. Evacuees are never here: their names are sealed (blind index instead)."""

    __tablename__ = "emergency_search_docs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[str] = mapped_column(String(36))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str | None] = mapped_column(String(20), default=None)
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("kind", "ref_id", name="uq_emergency_search_ref"),
        Index("ix_emergency_search_kind_status", "kind", "status"),
    )


class Activity(Base):
    """The operational log (who did what, when) per incident, resource, shelter, alert..."""

    __tablename__ = "emergency_activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (Index("ix_emergency_activity_subject", "subject_kind", "subject_id", "at"),)
