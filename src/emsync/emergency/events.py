"""Emergency-management events: pushed to dashboards on channel `emergency`; public alerts are
what the notifications domain will fan out (until it does, the CAP/Atom feed is the channel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceChanged(Event):
    name: ClassVar[str] = "emergency.resource_changed"
    resource_id: str
    status: str
    incident_id: str | None
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShelterChanged(Event):
    """Opened, closed, or its occupancy moved (check-in, check-out)."""

    name: ClassVar[str] = "emergency.shelter_changed"
    shelter_id: str
    status: str
    occupied_beds: int
    capacity_beds: int
    occupied_accessible: int
    capacity_accessible: int
    occupied_pets: int
    capacity_pets: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StockMoved(Event):
    name: ClassVar[str] = "emergency.stock_moved"
    movement_id: int
    item_id: str
    kind: str
    quantity: int
    from_location_id: str | None
    to_location_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StockLow(Event):
    name: ClassVar[str] = "emergency.stock_low"
    item_id: str
    on_hand: int
    minimum: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShiftsRostered(Event):
    name: ClassVar[str] = "emergency.shifts_rostered"
    person_id: str
    shift_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicAlertIssued(Event):
    """A CAP message was published (Alert, Update or Cancel): the public channels send it."""

    name: ClassVar[str] = "emergency.public_alert_issued"
    alert_id: str
    thread_id: str
    identifier: str
    msg_type: str
    status: str
    event: str
    severity: str
    headline: str | None


ALL_EVENTS: tuple[type[Event], ...] = (
    ResourceChanged,
    ShelterChanged,
    StockMoved,
    StockLow,
    ShiftsRostered,
    PublicAlertIssued,
)
