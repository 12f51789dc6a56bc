"""Hospital use cases: the register, coordinators' updates, import from the map, destinations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from emsync.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.hospitals.destination import (
    Capability,
    Condition,
    HospitalCandidate,
    RankedHospital,
    capabilities_of,
    rank_destinations,
)
from emsync.hospitals.events import HospitalCreated, HospitalDiversionChanged, HospitalUpdated
from emsync.hospitals.models import Hospital
from emsync.hospitals.needs import BeFastSign, ClinicalPicture, EcgFinding, Needs
from emsync.hospitals.schemas import (
    DestinationRead,
    DestinationRecommendation,
    HospitalCreate,
    HospitalRead,
    HospitalUpdate,
    NeedRead,
)
from emsync.incidents import IncidentRead
from emsync.maps import etas_from
from emsync.routing import LatLon, MapHospital, RoutingEngine


def _capabilities(h: Hospital) -> frozenset[Capability]:
    return capabilities_of(
        trauma_level=h.trauma_level,
        stroke_centre=h.stroke_centre,
        pci=h.pci,
        burns=h.burns,
        paediatrics=h.paediatrics,
    )


def hospital_read(h: Hospital) -> HospitalRead:
    return HospitalRead(
        id=h.id,
        name=h.name,
        osm_kind=h.osm_kind,
        osm_id=h.osm_id,
        lat=h.lat,
        lon=h.lon,
        emergency_department=h.emergency_department,
        trauma_level=h.trauma_level,
        stroke_centre=h.stroke_centre,
        pci=h.pci,
        burns=h.burns,
        paediatrics=h.paediatrics,
        capabilities=sorted(_capabilities(h)),
        ed_beds_available=h.ed_beds_available,
        diversion=h.diversion,
        diversion_reason=h.diversion_reason,
        updated_at=h.updated_at,
        updated_by=h.updated_by,
    )


async def _load(session: AsyncSession, hospital_id: str, *, lock: bool = False) -> Hospital:
    hospital = await session.get(Hospital, hospital_id, with_for_update=lock)
    if hospital is None:
        raise NotFound(f"hospital {hospital_id} does not exist")
    return hospital


async def hospital_exists(*, session: AsyncSession, hospital_id: str) -> bool:
    """For other domains (auth: a user's or API key's hospital must exist)."""
    return (await session.get(Hospital, hospital_id)) is not None


async def list_hospitals(*, session: AsyncSession) -> Sequence[Hospital]:
    return (await session.scalars(select(Hospital).order_by(Hospital.name, Hospital.id))).all()


async def get_hospital(*, session: AsyncSession, hospital_id: str) -> HospitalRead:
    return hospital_read(await _load(session, hospital_id))


async def create_hospital(
    *, uow: UnitOfWork, data: HospitalCreate, actor: str, now: datetime
) -> HospitalRead:
    hospital = Hospital(
        id=new_id(),
        created_at=now,
        updated_at=now,
        updated_by=actor,
        diversion=False,
        **data.model_dump(),
    )
    uow.session.add(hospital)
    uow.record(HospitalCreated(hospital_id=hospital.id, hospital_name=hospital.name, source="api"))
    await uow.commit()
    return hospital_read(hospital)


async def import_map_hospitals(
    *, uow: UnitOfWork, hospitals: Iterable[MapHospital], actor: str, now: datetime
) -> int:
    """Add the map's hospitals not yet registered; never overwrites what coordinators keep."""
    session = uow.session
    known = {
        (kind, osm_id)
        for kind, osm_id in (
            await session.execute(
                select(Hospital.osm_kind, Hospital.osm_id).where(Hospital.osm_id.is_not(None))
            )
        ).all()
    }
    added = 0
    for h in hospitals:
        if (h.osm_kind, h.osm_id) in known:
            continue
        known.add((h.osm_kind, h.osm_id))
        row = Hospital(
            id=new_id(),
            name=(h.name or f"Hospital (OSM {h.osm_kind} {h.osm_id})")[:200],
            osm_kind=h.osm_kind,
            osm_id=h.osm_id,
            lat=h.lat,
            lon=h.lon,
            emergency_department=h.emergency,
            stroke_centre=False,
            pci=False,
            burns=False,
            paediatrics=False,
            diversion=False,
            created_at=now,
            updated_at=now,
            updated_by=actor,
        )
        session.add(row)
        uow.record(HospitalCreated(hospital_id=row.id, hospital_name=row.name, source="map"))
        added += 1
    await uow.commit()
    return added


async def update_hospital(
    *,
    uow: UnitOfWork,
    hospital_id: str,
    data: HospitalUpdate,
    actor: str,
    now: datetime,
    only_hospital: str | None,
) -> HospitalRead:
    """Apply a coordinator's update; `only_hospital` scopes hospital staff to their own."""
    if only_hospital is not None and only_hospital != hospital_id:
        raise Forbidden("hospital staff may update only their own hospital")
    hospital = await _load(uow.session, hospital_id, lock=True)
    changed = data.model_dump(exclude_unset=True)
    if changed.get("diversion") is False:
        changed["diversion_reason"] = None
    was_diverted = hospital.diversion
    for name, value in changed.items():
        setattr(hospital, name, value)
    if changed:
        hospital.updated_at = now
        hospital.updated_by = actor
        uow.record(
            HospitalUpdated(hospital_id=hospital_id, fields=tuple(sorted(changed)), actor=actor)
        )
        if hospital.diversion != was_diverted:
            uow.record(
                HospitalDiversionChanged(
                    hospital_id=hospital_id,
                    diversion=hospital.diversion,
                    reason=hospital.diversion_reason,
                    actor=actor,
                )
            )
    try:
        await uow.commit()
    except StaleDataError as exc:
        await uow.rollback()
        raise Conflict("the hospital was changed by someone else at the same time; retry") from exc
    return hospital_read(hospital)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def picture_of_incident(
    incident: IncidentRead,
    triage: dict[str, dict[str, Any]],
    *,
    patient_id: str | None,
    age_years: int | None,
) -> ClinicalPicture:
    """The clinical picture of one of the incident's patients (the one asked for, else the most
    urgent triaged one): complaint, findings, override, age and triage vital signs."""
    patients = [p for p in incident.patients if patient_id in (None, p.id)]
    if patient_id is not None and not patients:
        raise ValidationFailed(f"patient {patient_id} is not on incident {incident.id}")
    patients.sort(key=lambda p: (p.acuity is None, p.acuity or 0, p.created_at))
    patient = patients[0] if patients else None
    found = incident.findings
    inputs = triage.get(patient.id, {}) if patient is not None else {}
    if age_years is None and patient is not None:
        age_years = patient.age_years
    if age_years is None and _number(inputs.get("age")) is not None:
        age_years = int(_number(inputs.get("age")) or 0)
    consciousness = inputs.get("consciousness")
    return ClinicalPicture(
        complaint=incident.chief_complaint,
        mechanism=found.mechanism,
        age_years=age_years,
        injured=inputs.get("injury") is True,
        sbp=_number(inputs.get("sbp")),
        hr=_number(inputs.get("hr")),
        rr=_number(inputs.get("rr")),
        spo2=_number(inputs.get("spo2")),
        on_oxygen=inputs.get("on_oxygen") is True,
        consciousness=consciousness if isinstance(consciousness, str) else None,
        gcs_motor=found.gcs_motor,
        befast=frozenset(BeFastSign(s) for s in found.befast),
        ecg=None if found.ecg is None else EcgFinding(found.ecg),
        set_conditions=None
        if found.conditions is None
        else frozenset(Condition(c) for c in found.conditions),
    )


def _destination(r: RankedHospital) -> DestinationRead:
    return DestinationRead(
        hospital_id=r.hospital_id,
        name=r.name,
        rank=r.rank,
        eta_s=None if r.eta_s is None else round(r.eta_s, 1),
        reason=r.reason,
        diversion=r.diversion,
        missing=list(r.missing),
    )


async def recommend_destinations(
    *,
    session: AsyncSession,
    engine: RoutingEngine,
    origin: LatLon,
    needs: Needs,
    age_years: int | None,
) -> DestinationRecommendation:
    """Hospitals ranked for a patient at `origin`, with a reason for each (see destination.py)."""
    rows = await list_hospitals(session=session)
    try:
        etas = etas_from(engine, origin, [LatLon(h.lat, h.lon) for h in rows])
    except NotFound as error:
        raise ValidationFailed(
            f"the patient's position is off the road map: {error.detail}"
        ) from error
    candidates = [
        HospitalCandidate(
            hospital_id=h.id,
            name=h.name,
            eta_s=float(etas.seconds[i]),
            capabilities=_capabilities(h),
            emergency_department=h.emergency_department,
            ed_beds_available=h.ed_beds_available,
            diversion=h.diversion,
            location_problem=etas.problems[i],
        )
        for i, h in enumerate(rows)
    ]
    ranking = rank_destinations(candidates, needs.capabilities)
    return DestinationRecommendation(
        origin=(origin.lat, origin.lon),
        conditions=sorted(needs.conditions),
        age_years=age_years,
        required=sorted(needs.capabilities),
        needs=[
            NeedRead(
                condition=n.condition,
                capability=n.capability,
                criterion=n.criterion,
                reason=n.reason,
                source=n.source,
                applied=n.applied,
            )
            for n in needs.needs
        ],
        questions=list(needs.questions),
        overridden=needs.overridden,
        ranked=[_destination(r) for r in ranking.ranked],
        excluded=[_destination(r) for r in ranking.excluded],
    )
