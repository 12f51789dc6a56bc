"""Hospital routes: the register, coordinators' updates, destination recommendation, map layer."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emsync import incidents
from emsync.auth.deps import requires
from emsync.auth.permissions import Perm, Role
from emsync.auth.principal import Principal
from emsync.core.errors import Forbidden, ValidationFailed
from emsync.core.runtime import ReadSessionDep, RuntimeDep, SessionDep, UowDep
from emsync.hospitals import service
from emsync.hospitals.destination import Condition
from emsync.hospitals.needs import ClinicalPicture, assess_needs
from emsync.hospitals.schemas import (
    DestinationRecommendation,
    HospitalCreate,
    HospitalRead,
    HospitalUpdate,
    MapImportResult,
)
from emsync.maps import RoadMapService, region_of
from emsync.routing import LatLon

router = APIRouter(prefix="/api/hospitals", tags=["hospitals"])
map_router = APIRouter(prefix="/api/map", tags=["map"])


def _only_hospital(principal: Principal) -> str | None:
    """Which hospital the caller may edit: any (None) for admins and regional roles, their
    own for hospital staff."""
    if principal.role is Role.ADMIN:
        return None
    if principal.hospital_id is not None:
        return principal.hospital_id
    if principal.role is Role.HOSPITAL_COORDINATOR:
        raise Forbidden("this hospital coordinator account is not linked to a hospital")
    return None


def _regional(principal: Principal) -> None:
    if _only_hospital(principal) is not None:
        raise Forbidden("hospital staff cannot add hospitals to the register")


@router.get("", response_model=list[HospitalRead])
async def list_hospitals(
    session: ReadSessionDep, _: Annotated[Principal, requires(Perm.HOSPITALS_READ)]
) -> list[HospitalRead]:
    return [service.hospital_read(h) for h in await service.list_hospitals(session=session)]


@router.post("", response_model=HospitalRead, status_code=201)
async def create_hospital(
    body: HospitalCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HOSPITALS_WRITE)],
) -> HospitalRead:
    """Register a hospital the map does not know (regional roles only)."""
    _regional(principal)
    return await service.create_hospital(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.post("/import-map", response_model=MapImportResult)
async def import_map(
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HOSPITALS_WRITE)],
) -> MapImportResult:
    """Add the loaded map's `amenity=hospital` facilities that are not registered yet."""
    _regional(principal)
    road_map = await runtime.get(RoadMapService).get()
    added = await service.import_map_hospitals(
        uow=uow, hospitals=road_map.hospitals, actor=principal.audit_name, now=runtime.clock()
    )
    return MapImportResult(region=region_of(road_map), in_map=len(road_map.hospitals), added=added)


@router.get("/destinations", response_model=DestinationRecommendation)
async def recommend_destinations(
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.HOSPITALS_READ)],
    incident_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    patient_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    condition: Annotated[list[Condition] | None, Query()] = None,
    age_years: Annotated[int | None, Query(ge=0, le=120)] = None,
) -> DestinationRecommendation:
    """Hospitals ranked for a patient, with the reasons for what the patient needs. From an
    incident (its position, complaint, findings and override, and its patient's age and triage)
    and/or explicit `lat`/`lon`, `age_years`; `condition` given here overrides the rules."""
    if (lat is None) != (lon is None):
        raise ValidationFailed("lat and lon must be given together")
    origin = LatLon(lat, lon) if lat is not None and lon is not None else None
    picture = ClinicalPicture(age_years=age_years)
    if incident_id is not None:
        incident = await incidents.get_incident(
            session=session, keyring=runtime.keyring, incident_id=incident_id
        )
        if origin is None and incident.lat is not None and incident.lon is not None:
            origin = LatLon(incident.lat, incident.lon)
        triage = await incidents.triage_inputs(
            session=session, keyring=runtime.keyring, incident_id=incident_id
        )
        picture = service.picture_of_incident(
            incident, triage, patient_id=patient_id, age_years=age_years
        )
    if condition is not None:
        picture = replace(picture, set_conditions=frozenset(condition))
    if origin is None:
        raise ValidationFailed("give lat/lon, or an incident_id with coordinates")
    engine = await runtime.get(RoadMapService).engine()
    return await service.recommend_destinations(
        session=session,
        engine=engine,
        origin=origin,
        needs=assess_needs(picture),
        age_years=picture.age_years,
    )


@router.get("/{hospital_id}", response_model=HospitalRead)
async def get_hospital(
    hospital_id: str,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.HOSPITALS_READ)],
) -> HospitalRead:
    return await service.get_hospital(session=session, hospital_id=hospital_id)


@router.patch("/{hospital_id}", response_model=HospitalRead)
async def update_hospital(
    hospital_id: str,
    body: HospitalUpdate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.HOSPITALS_WRITE)],
) -> HospitalRead:
    """Capabilities, ED beds and diversion; hospital staff may update only their own."""
    return await service.update_hospital(
        uow=uow,
        hospital_id=hospital_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
        only_hospital=_only_hospital(principal),
    )


@map_router.get("/hospitals")
async def map_hospitals(
    session: SessionDep, _: Annotated[Principal, requires(Perm.HOSPITALS_READ)]
) -> dict[str, Any]:
    """Hospitals as GeoJSON points with capabilities, beds and diversion."""
    features = []
    for h in await service.list_hospitals(session=session):
        read = service.hospital_read(h)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [h.lon, h.lat]},
                "properties": read.model_dump(mode="json", exclude={"lat", "lon"}),
            }
        )
    return {"type": "FeatureCollection", "features": features}
