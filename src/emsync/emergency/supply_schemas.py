"""Supplies: items, stock locations, movements (the ledger), requests, stock alerts."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from emsync.emergency.ledger import LocationKind, MovementKind, RequestStatus
from emsync.emergency.schemas import Lat, Lon, Name, Strict, UtcDatetime

Quantity = Field(gt=0, le=10_000_000, description="whole units of the item's unit")


class LocationCreate(Strict):
    name: Name
    kind: LocationKind
    lat: Lat | None = None
    lon: Lon | None = None


class LocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: LocationKind
    shelter_id: str | None
    lat: float | None
    lon: float | None


class ItemCreate(Strict):
    sku: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")
    name: Name
    unit: str = Field(min_length=1, max_length=20, description="each, box, litre, kg...")
    category: str | None = Field(default=None, max_length=60)
    min_stock: int = Field(default=0, ge=0, le=10_000_000, description="low-stock threshold")


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    sku: str
    name: str
    unit: str
    category: str | None
    min_stock: int
    on_hand: int = 0


class MovementCreate(Strict):
    kind: MovementKind
    item_id: str = Field(min_length=1, max_length=36)
    quantity: int = Quantity
    from_location_id: str | None = Field(default=None, max_length=36)
    to_location_id: str | None = Field(default=None, max_length=36)
    lot: str | None = Field(
        default=None,
        max_length=40,
        description="receipts: the lot received; takes: that lot, or first-expiry-first-out",
    )
    expires_on: date | None = Field(default=None, description="receipts only")
    note: str | None = Field(default=None, max_length=300)


class MovementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDatetime
    kind: MovementKind
    item_id: str
    lot: str
    from_location_id: str | None
    to_location_id: str | None
    quantity: int
    request_id: str | None
    actor: str
    note: str | None


class StockRead(BaseModel):
    item_id: str
    sku: str
    item_name: str
    unit: str
    location_id: str
    location_name: str
    lot: str
    expires_on: date | None
    quantity: int


class RequestCreate(Strict):
    item_id: str = Field(min_length=1, max_length=36)
    quantity: int = Quantity
    to_location_id: str = Field(min_length=1, max_length=36)
    needed_by: UtcDatetime | None = None
    note: str | None = Field(default=None, max_length=300)


class RequestFulfil(Strict):
    from_location_id: str = Field(min_length=1, max_length=36)
    quantity: int | None = Field(default=None, gt=0, le=10_000_000, description="default: rest")
    lot: str | None = Field(default=None, max_length=40)


class RequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    item_id: str
    quantity: int
    to_location_id: str
    status: RequestStatus
    fulfilled_quantity: int
    needed_by: UtcDatetime | None
    note: str | None
    requested_by: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


class StockAlertRead(BaseModel):
    kind: str
    item_id: str
    location_id: str | None
    message: str
