"""Read-only views of dispatch's units for other domains (the emergency resources board, the
handoff's FHIR author)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.dispatch.models import Unit


@dataclass(frozen=True, slots=True)
class UnitSummary:
    unit_id: str
    call_sign: str
    unit_type: str
    status: str
    station_name: str | None
    lat: float  # the GPS fix, else the home station
    lon: float
    incident_id: str | None


async def unit_exists(*, session: AsyncSession, unit_id: str) -> bool:
    return await session.get(Unit, unit_id) is not None


async def unit_summaries(*, session: AsyncSession) -> list[UnitSummary]:
    """Every unit, by call sign, as the resources board shows it."""
    rows = await session.scalars(select(Unit).order_by(Unit.call_sign))
    return [
        UnitSummary(
            unit_id=u.id,
            call_sign=u.call_sign,
            unit_type=u.unit_type,
            status=u.status,
            station_name=u.station_name,
            lat=u.lat if u.lat is not None else u.station_lat,
            lon=u.lon if u.lon is not None else u.station_lon,
            incident_id=u.incident_id,
        )
        for u in rows
    ]


@dataclass(frozen=True, slots=True)
class CrewUnit:
    """What a crew member's unit is on: the names a handoff may give it and its current call."""

    unit_id: str
    call_sign: str
    incident_id: str | None


async def crew_unit(*, session: AsyncSession, unit_id: str | None) -> CrewUnit | None:
    """The crew's unit as other domains scope a crew by it; None when it is not a unit here."""
    if unit_id is None:
        return None
    unit = await session.get(Unit, unit_id)
    if unit is None:
        return None
    return CrewUnit(unit_id=unit.id, call_sign=unit.call_sign, incident_id=unit.incident_id)


async def call_sign_of(*, session: AsyncSession, unit_id: str) -> str | None:
    """The unit's radio call sign; None when `unit_id` is not a unit of this hub (a handoff may
    name a unit by its call sign already, or one from another hub)."""
    call_sign: str | None = await session.scalar(select(Unit.call_sign).where(Unit.id == unit_id))
    return call_sign
