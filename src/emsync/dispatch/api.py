"""Unit, dispatch and unit/incident map-layer routes (thin: validation at the edge, use cases
in the service)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import ValidationFailed
from emsync.core.runtime import ReadSessionDep, Runtime, RuntimeDep, SessionDep, UowDep
from emsync.dispatch import map_layers, recommendation, service, trips
from emsync.dispatch.crew import CrewCheck
from emsync.dispatch.lifecycle import UnitStatus
from emsync.dispatch.schemas import (
    AssignmentRead,
    AssignRequest,
    CalibrationRead,
    PositionUpdate,
    RecommendationRead,
    TripRead,
    UnitCreate,
    UnitRead,
    UnitStatusChange,
    UnitUpdate,
)
from emsync.maps import RoadMapService, region_of

router = APIRouter(tags=["dispatch"])
map_router = APIRouter(prefix="/api/map", tags=["map"])


async def _routing(runtime: Runtime) -> trips.Routing:
    road_map = await runtime.get(RoadMapService).get()
    return trips.Routing(road_map.engine, region_of(road_map))


# ---- units ------------------------------------------------------------------------------------


@router.post("/api/units", response_model=UnitRead, status_code=201)
async def create_unit(
    body: UnitCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.UNITS_WRITE)],
) -> UnitRead:
    return await service.create_unit(
        uow=uow, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/api/units", response_model=list[UnitRead])
async def list_units(
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.UNITS_READ)],
    status: Annotated[list[UnitStatus] | None, Query()] = None,
) -> list[UnitRead]:
    rows = await service.list_units(session=session, statuses=status or ())
    return [service.unit_read(u) for u in rows]


@router.get("/api/units/{unit_id}", response_model=UnitRead)
async def get_unit(
    unit_id: str, session: ReadSessionDep, _: Annotated[Principal, requires(Perm.UNITS_READ)]
) -> UnitRead:
    return await service.get_unit(session=session, unit_id=unit_id)


@router.patch("/api/units/{unit_id}", response_model=UnitRead)
async def update_unit(
    unit_id: str,
    body: UnitUpdate,
    runtime: RuntimeDep,
    uow: UowDep,
    _: Annotated[Principal, requires(Perm.UNITS_WRITE)],
) -> UnitRead:
    return await service.update_unit(uow=uow, unit_id=unit_id, data=body, now=runtime.clock())


@router.post("/api/units/{unit_id}/status", response_model=UnitRead)
async def change_unit_status(
    unit_id: str,
    body: UnitStatusChange,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.UNITS_WRITE)],
) -> UnitRead:
    """Move the unit along its lifecycle (409 if the lifecycle forbids it; nothing changes).
    Arriving on scene or at hospital records the trip's actual time for ETA calibration."""
    routing = await _routing(runtime) if body.hospital_id is not None else None
    return await service.change_status(
        uow=uow,
        routing=routing,
        unit_id=unit_id,
        change=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.put("/api/units/{unit_id}/position", response_model=UnitRead)
async def update_unit_position(
    unit_id: str,
    body: PositionUpdate,
    runtime: RuntimeDep,
    uow: UowDep,
    _: Annotated[Principal, requires(Perm.UNITS_WRITE)],
) -> UnitRead:
    """A position fix from the crew's app or a CAD integration (devices use MQTT)."""
    return await service.update_position(
        uow=uow, unit_id=unit_id, position=body, source="api", now=runtime.clock()
    )


# ---- dispatch ---------------------------------------------------------------------------------


@router.get(
    "/api/dispatch/incidents/{incident_id}/recommendation", response_model=RecommendationRead
)
async def recommend_units(
    incident_id: str,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.UNITS_READ)],
) -> RecommendationRead:
    """Every unit, ranked by road ETA under the capability rules or excluded, with reasons."""
    engine = await runtime.get(RoadMapService).engine()
    return await recommendation.recommend(
        session=session,
        keyring=runtime.keyring,
        engine=engine,
        incident_id=incident_id,
        crew=runtime.find(CrewCheck),
        at=runtime.clock(),
    )


@router.post(
    "/api/dispatch/incidents/{incident_id}/assign", response_model=AssignmentRead, status_code=201
)
async def assign_unit(
    incident_id: str,
    body: AssignRequest,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DISPATCH_ASSIGN)],
) -> AssignmentRead:
    """Send a unit: unit and incident move to 'dispatched' together, or neither does."""
    return await service.assign(
        uow=uow,
        keyring=runtime.keyring,
        routing=await _routing(runtime),
        incident_id=incident_id,
        unit_id=body.unit_id,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/api/dispatch/trips", response_model=list[TripRead])
async def list_trips(
    session: ReadSessionDep,
    _: Annotated[Principal, requires(Perm.UNITS_READ)],
    state: Literal["open", "completed", "abandoned"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[TripRead]:
    """Trips with predicted and actual travel times (the ETA calibration data)."""
    rows = await trips.list_trips(session=session, state=state, limit=limit, offset=offset)
    return [TripRead.model_validate(t) for t in rows]


@router.post("/api/dispatch/calibration", response_model=list[CalibrationRead])
async def calibrate(
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.MAP_WRITE)],
    region: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    apply: bool = False,
) -> list[CalibrationRead]:
    """Fit per-road-class speed factors on completed trips and report the ETA error before and
    after; `apply=true` puts the loaded map's region's factors into the running engine."""
    routing = await _routing(runtime) if apply else None
    return await trips.calibrate(session=session, region=region, apply_to=routing)


# ---- map layers of units and incidents (the map itself: emsync.maps) ----------------------


@map_router.get("/units")
async def map_units(
    session: SessionDep, _: Annotated[Principal, requires(Perm.UNITS_READ)]
) -> dict[str, Any]:
    return await map_layers.units_geojson(session=session)


@map_router.get("/incidents")
async def map_incidents(
    session: SessionDep, _: Annotated[Principal, requires(Perm.INCIDENTS_READ)]
) -> dict[str, Any]:
    return await map_layers.incidents_geojson(session=session)


@map_router.get("/route")
async def map_route(
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.MAP_READ)],
    unit_id: Annotated[str, Query(min_length=1, max_length=36)],
    incident_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    hospital_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
) -> dict[str, Any]:
    """The road route from a unit to an incident or a hospital (GeoJSON LineString)."""
    if (incident_id is None) == (hospital_id is None):
        raise ValidationFailed("give exactly one of incident_id and hospital_id")
    origin = await map_layers.unit_origin(session=session, unit_id=unit_id)
    if incident_id is not None:
        target = await map_layers.incident_position(session=session, incident_id=incident_id)
    else:
        assert hospital_id is not None
        target = await map_layers.hospital_position(session=session, hospital_id=hospital_id)
    engine = await runtime.get(RoadMapService).engine()
    return engine.route(origin, target).geojson()


@map_router.get("/coverage")
async def map_coverage(
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.MAP_READ)],
    minutes: Annotated[float, Query(gt=0, le=60)] = 8.0,
) -> dict[str, Any]:
    """Share of the road network the available units reach within `minutes`."""
    engine = await runtime.get(RoadMapService).engine()
    positions = await map_layers.available_positions(session=session)
    coverage = engine.coverage(positions, minutes)
    return {
        "minutes": coverage.minutes,
        "available_units": len(positions),
        "covered_km": round(coverage.covered_m / 1000.0, 2),
        "total_km": round(coverage.total_m / 1000.0, 2),
        "share": round(coverage.share, 4),
    }
