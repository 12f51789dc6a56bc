"""What other domains may read and report about hospitals: where a hospital is (dispatch's
routes and trips), capacity, ED status and diversion (the emergency domain's EDXL-HAVE export
and import)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.uow import UnitOfWork
from emsync.hospitals import service
from emsync.hospitals.models import Hospital
from emsync.hospitals.schemas import HospitalRead, HospitalUpdate


async def hospital_position(
    *, session: AsyncSession, hospital_id: str
) -> tuple[float, float] | None:
    """The hospital's (lat, lon), or None when there is no such hospital."""
    row = (
        await session.execute(select(Hospital.lat, Hospital.lon).where(Hospital.id == hospital_id))
    ).first()
    return None if row is None else (row.lat, row.lon)


async def availability(*, session: AsyncSession) -> list[HospitalRead]:
    """Every hospital with its capabilities, ED beds free and diversion."""
    return [service.hospital_read(h) for h in await service.list_hospitals(session=session)]


async def report_availability(
    *,
    uow: UnitOfWork,
    hospital_id: str,
    ed_beds_available: int | None,
    diversion: bool,
    diversion_reason: str | None,
    actor: str,
    now: datetime,
) -> HospitalRead:
    """Record capacity and diversion reported by another system (commits through `uow`)."""
    fields: dict[str, object] = {"diversion": diversion}
    if ed_beds_available is not None:
        fields["ed_beds_available"] = ed_beds_available
    if diversion and diversion_reason:
        fields["diversion_reason"] = diversion_reason[:300]
    return await service.update_hospital(
        uow=uow,
        hospital_id=hospital_id,
        data=HospitalUpdate.model_validate(fields),
        actor=actor,
        now=now,
        only_hospital=None,
    )
