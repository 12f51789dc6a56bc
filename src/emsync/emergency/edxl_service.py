"""EDXL-HAVE export of the hospitals' capacity, ED status and diversion, and import of another
system's report (through the hospitals domain's public functions, never its tables)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from emsync import hospitals
from emsync.core.errors import DomainError, ValidationFailed
from emsync.core.uow import UnitOfWork
from emsync.emergency import edxl
from emsync.emergency.batch import BatchUnitOfWork


class HaveImportResult(BaseModel):
    updated: list[str]  # hospital ids
    unmatched: list[str]  # names in the document EMsync does not know


def _have(h: hospitals.HospitalRead) -> edxl.HaveHospital:
    services = {
        "burns": h.burns,
        "trauma": h.trauma_level is not None,
        "paediatrics": h.paediatrics,
        "pci": h.pci,
        "stroke": h.stroke_centre,
        "emergency_department": bool(h.emergency_department),
    }
    if h.emergency_department is False:
        traffic = "NotApplicable"
    else:
        traffic = "Closed" if h.diversion else "Normal"
    return edxl.HaveHospital(
        org_id=h.id,
        name=h.name,
        lat=h.lat,
        lon=h.lon,
        ems_traffic=traffic,
        ems_reason=h.diversion_reason if h.diversion else None,
        ed_beds_available=h.ed_beds_available,
        services=frozenset(k for k, v in services.items() if v),
        last_update=h.updated_at,
    )


async def export_have(*, session: AsyncSession) -> bytes:
    return edxl.to_xml([_have(h) for h in await hospitals.availability(session=session)])


async def import_have(
    *, uow: UnitOfWork, data: bytes, actor: str, now: datetime
) -> HaveImportResult:
    """Apply reported capacity and diversion to the hospitals it names (by EMsync id, else by
    name), all in one transaction; hospitals EMsync does not know are listed, not created."""
    try:
        reported = edxl.parse(data)
    except ValueError as error:
        raise ValidationFailed(
            f"not a usable EDXL-HAVE 1.0 document: {error}", field="file"
        ) from error
    known = await hospitals.availability(session=uow.session)
    by_id = {h.id: h for h in known}
    by_name = {h.name.casefold(): h for h in known}
    batch = BatchUnitOfWork(uow.session, uow.bus)
    updated, unmatched = [], []
    for n, r in enumerate(reported):
        match = by_id.get(r.org_id) or by_name.get(r.name.casefold())
        if match is None:
            unmatched.append(r.name)
            continue
        try:
            await hospitals.report_availability(
                uow=batch, hospital_id=match.id, ed_beds_available=r.ed_beds_available,
                diversion=r.diversion, diversion_reason=r.ems_reason, actor=actor, now=now,
            )  # fmt: skip
        except DomainError as error:
            await batch.rollback()
            raise ValidationFailed(
                f"Hospital[{n}] ({r.name}): {error.detail}", field="file"
            ) from error
        updated.append(match.id)
    await batch.finish()
    return HaveImportResult(updated=updated, unmatched=unmatched)
