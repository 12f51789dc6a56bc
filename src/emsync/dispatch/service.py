"""Unit and dispatch use cases: the unit register, status and position, recommendation,
assignment, and the trips recorded for ETA calibration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, column, func, select, table, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from emsync import incidents
from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.events import Event
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.dispatch.crew import CrewCheck
from emsync.dispatch.events import (
    DestinationChosen,
    UnitAssigned,
    UnitCreated,
    UnitPositionChanged,
    UnitStatusChanged,
    UnitUpdated,
)
from emsync.dispatch.lifecycle import UnitStatus, next_status
from emsync.dispatch.models import Trip, Unit, UnitStatusEntry
from emsync.dispatch.ranking import (
    RankedRows,
    RankedUnit,
    UnitColumns,
    UnitType,
    rank_rows,
    urgency_of,
)
from emsync.dispatch.schemas import (
    AssignmentRead,
    CalibrationRead,
    EtaErrorRead,
    PositionUpdate,
    RecommendationRead,
    UnitCreate,
    UnitRead,
    UnitStatusChange,
    UnitUpdate,
)
from emsync.routing import (
    LatLon,
    RoadClass,
    RoutingEngine,
    calibrated_eta,
    eta_error,
    fit_calibrations,
)
from emsync.routing import Trip as CalibrationTrip

IncidentStatus = incidents.IncidentStatus
F64 = npt.NDArray[np.float64]
# A unit's status carries its incident along when the incident is one step behind.
_INCIDENT_FOLLOWS: dict[UnitStatus, tuple[IncidentStatus, IncidentStatus]] = {
    UnitStatus.ON_SCENE: (IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE),
    UnitStatus.TRANSPORTING: (IncidentStatus.ON_SCENE, IncidentStatus.TRANSPORTING),
    UnitStatus.AT_HOSPITAL: (IncidentStatus.TRANSPORTING, IncidentStatus.AT_HOSPITAL),
}
_ASSIGNABLE_INCIDENT = {IncidentStatus.NEW, IncidentStatus.TRIAGED}
_REINFORCEABLE_INCIDENT = {
    IncidentStatus.DISPATCHED,
    IncidentStatus.ON_SCENE,
    IncidentStatus.TRANSPORTING,
}

# Read-only views of other domains' positions (their models are not imported).
_incidents = table(
    "incidents",
    column("id"),
    column("number"),
    column("status"),
    column("priority"),
    column("chief_complaint"),
    column("lat"),
    column("lon"),
    column("mci"),
)
_patients = table("patients", column("incident_id"), column("acuity"))
_hospitals = table("hospitals", column("id"), column("lat"), column("lon"))


def unit_read(u: Unit) -> UnitRead:
    return UnitRead.model_validate(u)


async def _load(session: AsyncSession, unit_id: str, *, lock: bool = False) -> Unit:
    unit = await session.get(Unit, unit_id, with_for_update=lock)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    return unit


async def _commit(uow: UnitOfWork, what: str) -> None:
    try:
        await uow.commit()
    except StaleDataError as exc:
        await uow.rollback()
        raise Conflict(f"the {what} was changed by someone else at the same time; retry") from exc
    except IntegrityError as exc:
        await uow.rollback()
        raise Conflict("call sign or device id already belongs to another unit") from exc


# ---- register ---------------------------------------------------------------------------------


async def create_unit(*, uow: UnitOfWork, data: UnitCreate, actor: str, now: datetime) -> UnitRead:
    unit = Unit(
        id=new_id(),
        call_sign=data.call_sign,
        unit_type=data.unit_type.value,
        station_name=data.station_name,
        station_lat=data.station_lat,
        station_lon=data.station_lon,
        crew=[name.strip() for name in data.crew],
        device_id=data.device_id,
        status=UnitStatus.AVAILABLE.value,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(unit)
    uow.record(UnitCreated(unit_id=unit.id, call_sign=unit.call_sign, unit_type=unit.unit_type))
    await _commit(uow, "unit")
    return unit_read(unit)


async def list_units(
    *, session: AsyncSession, statuses: Sequence[UnitStatus] = ()
) -> Sequence[Unit]:
    stmt = select(Unit).order_by(Unit.call_sign)
    if statuses:
        stmt = stmt.where(Unit.status.in_([s.value for s in statuses]))
    return (await session.scalars(stmt)).all()


async def get_unit(*, session: AsyncSession, unit_id: str) -> UnitRead:
    return unit_read(await _load(session, unit_id))


async def update_unit(
    *, uow: UnitOfWork, unit_id: str, data: UnitUpdate, now: datetime
) -> UnitRead:
    unit = await _load(uow.session, unit_id, lock=True)
    changed = data.model_dump(exclude_unset=True)
    for name, value in changed.items():
        if name == "unit_type":
            value = UnitType(value).value
        setattr(unit, name, value)
    if changed:
        unit.updated_at = now
        uow.record(UnitUpdated(unit_id=unit_id, fields=tuple(sorted(changed))))
    await _commit(uow, "unit")
    return unit_read(unit)


# ---- position ---------------------------------------------------------------------------------


def _move(unit: Unit, pos: PositionUpdate, at: datetime, source: str) -> UnitPositionChanged | None:
    if unit.position_at is not None and as_utc(unit.position_at) >= at:
        return None  # an older fix arriving late never moves the unit back
    unit.lat, unit.lon, unit.position_at = pos.lat, pos.lon, at
    unit.speed_mps, unit.heading = pos.speed_mps, pos.heading
    return UnitPositionChanged(
        unit_id=unit.id,
        lat=pos.lat,
        lon=pos.lon,
        at=at,
        speed_mps=pos.speed_mps,
        heading=pos.heading,
        source=source,
    )


async def update_position(
    *, uow: UnitOfWork, unit_id: str, position: PositionUpdate, source: str, now: datetime
) -> UnitRead:
    at = as_utc(position.at) if position.at is not None else now
    if (at - now).total_seconds() > 300:
        raise ValidationFailed("position time is more than 5 minutes in the future")
    unit = await _load(uow.session, unit_id, lock=True)
    event = _move(unit, position, at, source)
    if event is not None:
        uow.record(event)
    await _commit(uow, "unit")
    return unit_read(unit)


async def record_device_position(
    *,
    uow: UnitOfWork,
    device_id: str,
    lat: float,
    lon: float,
    at: datetime,
    speed_mps: float | None = None,
    heading: float | None = None,
) -> str | None:
    """Move the unit that carries telemetry device `device_id` (the MQTT `position` hook).

    Returns the unit's id, or None when no unit carries that device (the message is then not
    a unit position; the caller decides whether that is worth a log line). Values must have
    passed the telemetry plausibility checks; a fix older than the unit's last one is ignored.
    """
    position = PositionUpdate(lat=lat, lon=lon, at=at, speed_mps=speed_mps, heading=heading)
    unit = (
        await uow.session.scalars(select(Unit).where(Unit.device_id == device_id).limit(1))
    ).first()
    if unit is None:
        return None
    event = _move(unit, position, as_utc(at), "telemetry")
    if event is not None:
        uow.record(event)
    await _commit(uow, "unit")
    return unit.id


# ---- status -----------------------------------------------------------------------------------


def _log_status(
    session: AsyncSession, unit: Unit, old: UnitStatus, new: UnitStatus, actor: str, now: datetime
) -> UnitStatusChanged:
    session.add(
        UnitStatusEntry(
            unit_id=unit.id,
            at=now,
            old=old.value,
            new=new.value,
            incident_id=unit.incident_id,
            actor=actor,
        )
    )
    unit.status = new.value
    unit.status_changed_at = now
    unit.updated_at = now
    return UnitStatusChanged(
        unit_id=unit.id,
        call_sign=unit.call_sign,
        old=old.value,
        new=new.value,
        incident_id=unit.incident_id,
        actor=actor,
        at=now,
    )


async def _open_trip(session: AsyncSession, unit_id: str, kind: str) -> Trip | None:
    stmt = select(Trip).where(Trip.unit_id == unit_id, Trip.state == "open", Trip.kind == kind)
    return (await session.scalars(stmt.limit(1))).first()


async def _finish_trip(session: AsyncSession, unit_id: str, kind: str, now: datetime) -> None:
    trip = await _open_trip(session, unit_id, kind)
    if trip is None:
        return
    trip.ended_at = now
    trip.actual_s = max(0.0, (now - as_utc(trip.started_at)).total_seconds())
    trip.state = "completed" if trip.actual_s > 0 else "abandoned"


async def _abandon_trips(session: AsyncSession, unit_id: str, now: datetime) -> None:
    open_trips = await session.scalars(
        select(Trip).where(Trip.unit_id == unit_id, Trip.state == "open")
    )
    for trip in open_trips:
        trip.state, trip.ended_at = "abandoned", now


def _base_class_seconds(engine: RoutingEngine, class_seconds: Any) -> dict[str, float]:
    """Seconds per road class under the uncalibrated profile (undoing applied factors)."""
    factors = engine.speed_factors
    return {
        c.label: round(float(s) * factors[c], 3) for c, s in class_seconds.items() if float(s) > 0
    }


def _new_trip(
    *,
    engine: RoutingEngine,
    region: str,
    unit: Unit,
    kind: str,
    origin: LatLon,
    destination: LatLon,
    now: datetime,
) -> tuple[Trip, Any] | None:
    """A trip with its predicted ETA, or None when the map cannot route it."""
    try:
        route = engine.route(origin, destination)
    except (NotFound, ValidationFailed):
        return None
    trip = Trip(
        id=new_id(),
        unit_id=unit.id,
        incident_id=unit.incident_id,
        kind=kind,
        region=region,
        origin_lat=origin.lat,
        origin_lon=origin.lon,
        dest_lat=destination.lat,
        dest_lon=destination.lon,
        predicted_s=round(route.eta_s, 3),
        class_seconds=_base_class_seconds(engine, route.class_seconds),
        created_at=now,
        started_at=now,
        state="open",
    )
    return trip, route


def _unit_position(unit: Unit) -> tuple[LatLon, bool]:
    """Where the unit is: its last fix, else its home station (True when from the station)."""
    if unit.lat is not None and unit.lon is not None:
        return LatLon(unit.lat, unit.lon), False
    return LatLon(unit.station_lat, unit.station_lon), True


async def _incident_status(session: AsyncSession, incident_id: str) -> IncidentStatus | None:
    status = await session.scalar(select(_incidents.c.status).where(_incidents.c.id == incident_id))
    return None if status is None else IncidentStatus(status)


@dataclass(frozen=True, slots=True)
class Routing:
    """What status changes need from the map to record trips (None: no map, no trips)."""

    engine: RoutingEngine
    region: str


async def change_status(
    *,
    uow: UnitOfWork,
    routing: Routing | None,
    unit_id: str,
    change: UnitStatusChange,
    actor: str,
    now: datetime,
) -> UnitRead:
    """Move a unit along its lifecycle, carry its incident along, and record trip times."""
    session = uow.session
    target = change.status
    if target is UnitStatus.DISPATCHED:
        raise ValidationFailed(
            "a unit is dispatched by assigning it to an incident: "
            "POST /api/dispatch/incidents/{incident_id}/assign"
        )
    unit = await _load(session, unit_id, lock=True)
    current = UnitStatus(unit.status)
    next_status(current, target)
    events: list[Event] = []
    if target is UnitStatus.EN_ROUTE:
        trip = await _open_trip(session, unit.id, "response")
        if trip is not None:
            trip.started_at = now  # the drive starts now, not when the call was taken
    elif target is UnitStatus.ON_SCENE:
        await _finish_trip(session, unit.id, "response", now)
    elif target is UnitStatus.TRANSPORTING:
        if change.hospital_id is not None:
            destination = (
                await session.execute(
                    select(_hospitals.c.lat, _hospitals.c.lon).where(
                        _hospitals.c.id == change.hospital_id
                    )
                )
            ).first()
            if destination is None:
                raise NotFound(f"hospital {change.hospital_id} does not exist")
            unit.hospital_id = change.hospital_id
            eta: datetime | None = None
            if routing is not None:
                made = _new_trip(
                    engine=routing.engine,
                    region=routing.region,
                    unit=unit,
                    kind="transport",
                    origin=_unit_position(unit)[0],
                    destination=LatLon(float(destination.lat), float(destination.lon)),
                    now=now,
                )
                if made is not None:
                    session.add(made[0])
                    eta = now + timedelta(seconds=made[0].predicted_s)
            events.append(
                DestinationChosen(
                    unit_id=unit.id,
                    incident_id=unit.incident_id,
                    hospital_id=change.hospital_id,
                    eta=eta,
                    actor=actor,
                )
            )
    elif target is UnitStatus.AT_HOSPITAL:
        await _finish_trip(session, unit.id, "transport", now)
    elif target is UnitStatus.AVAILABLE and current is not UnitStatus.OUT_OF_SERVICE:
        await _abandon_trips(session, unit.id, now)
    follows = _INCIDENT_FOLLOWS.get(target)
    if follows is not None and unit.incident_id is not None:
        before, after = follows
        if await _incident_status(session, unit.incident_id) is before:
            events.append(
                await incidents.transition(
                    session=session,
                    incident_id=unit.incident_id,
                    target=after,
                    actor=actor,
                    now=now,
                    reason=f"unit {unit.call_sign} {target.value}",
                )
            )
    events.insert(0, _log_status(session, unit, current, target, actor, now))
    if target is UnitStatus.AVAILABLE:
        unit.incident_id = None
        unit.hospital_id = None
    uow.record(*events)
    await _commit(uow, "unit")
    return unit_read(unit)


# ---- recommendation ---------------------------------------------------------------------------


async def _no_coordinates(session: AsyncSession, incident_id: str) -> ValidationFailed:
    """The error for an incident known only by its address, in the dispatcher's words (its
    number, not its id) and saying how to fix it."""
    number = await session.scalar(select(_incidents.c.number).where(_incidents.c.id == incident_id))
    return ValidationFailed(
        f"incident #{number} has only an address, no map position yet: click its place on "
        "the map (or set lat/lon) so units and hospitals can be ranked by road time",
        incident_id=incident_id,
    )


@dataclass(frozen=True, slots=True)
class IncidentSite:
    id: str
    position: LatLon
    urgency: int


async def incident_site(
    *, session: AsyncSession, keyring: Keyring, incident_id: str
) -> IncidentSite:
    """Where the incident is and how urgent (priority and triaged patients' acuity).

    One read of the incident's position and its patients' acuity, no personal fields, so the
    recommendation costs one round trip here (`keyring` is unused; kept for callers' symmetry).
    """
    del keyring
    rows = (
        await session.execute(
            select(_incidents.c.priority, _incidents.c.lat, _incidents.c.lon, _patients.c.acuity)
            .select_from(
                _incidents.outerjoin(_patients, _patients.c.incident_id == _incidents.c.id)
            )
            .where(_incidents.c.id == incident_id)
        )
    ).all()
    if not rows:
        raise NotFound(f"incident {incident_id} does not exist")
    lat, lon = rows[0].lat, rows[0].lon
    if lat is None or lon is None:
        raise await _no_coordinates(session, incident_id)
    urgency = urgency_of(int(rows[0].priority), (r.acuity for r in rows))
    return IncidentSite(incident_id, LatLon(float(lat), float(lon)), urgency)


# The recommendation's one read: the incident's position and urgency beside every unit's
# ranking columns (no ORM objects). The outer join keeps the incident row when there are no
# units; the acuity subquery does not depend on the row, so databases evaluate it once.
_units = Unit.__table__
_SITE_AND_UNITS = (
    select(
        _units.c.id,
        _units.c.call_sign,
        _units.c.unit_type,
        _units.c.status,
        _units.c.lat,
        _units.c.lon,
        _units.c.station_lat,
        _units.c.station_lon,
        _incidents.c.priority,
        _incidents.c.lat,
        _incidents.c.lon,
        select(func.min(_patients.c.acuity))
        .where(_patients.c.incident_id == bindparam("incident_id"))
        .scalar_subquery(),
    )
    .select_from(_incidents.outerjoin(_units, true()))
    .where(_incidents.c.id == bindparam("incident_id"))
    .order_by(_units.c.call_sign)
)


@dataclass(frozen=True, slots=True)
class UnitRanking:
    """Every unit ranked or excluded for an incident, as columns and row numbers."""

    site: IncidentSite
    units: UnitColumns
    rows: RankedRows

    @property
    def urgency(self) -> int:
        return self.rows.urgency

    def ranked_units(self, limit: int | None = None) -> list[RankedUnit]:
        """The first `limit` ranked units (all when None) as values."""
        u, rows = self.units, self.rows
        return [
            RankedUnit(
                u.unit_id[i],
                u.call_sign[i],
                UnitType(u.unit_type[i]),
                UnitStatus(u.status[i]),
                float(u.eta_s[i]),
                n,
                reason,
            )
            for n, (i, reason) in enumerate(
                zip(rows.ranked[:limit], rows.ranked_reasons[:limit], strict=True), start=1
            )
        ]


def _etas(
    engine: RoutingEngine, site: IncidentSite, lat: F64, lon: F64
) -> tuple[F64, list[str | None]]:
    """Road seconds from each position to the incident, each snapped once; a position off
    the map gets inf and its reason instead of failing the others."""
    try:
        destination = engine.snap(site.position)
    except NotFound as error:
        raise ValidationFailed(f"incident {site.id} is off the road map: {error.detail}") from error
    snaps = engine.locate(lat, lon)
    problems: list[str | None] = [None] * lat.shape[0]
    for i in np.flatnonzero(~snaps.found).tolist():
        reason = engine.off_map_reason(float(lat[i]), float(lon[i]))
        problems[i] = f"position is off the road map ({reason})"
    return engine.travel_times_to_snapped(snaps, destination), problems


async def rank_incident(
    *,
    session: AsyncSession,
    engine: RoutingEngine,
    incident_id: str,
    crew: CrewCheck | None = None,
    at: datetime | None = None,
) -> UnitRanking:
    """Every unit ranked or excluded for the incident by road ETA: one database round trip,
    one snap per unit position, one many-to-one query, the rules over columns."""
    result = await session.execute(_SITE_AND_UNITS, {"incident_id": incident_id})
    rows = result.all()
    if not rows:
        raise NotFound(f"incident {incident_id} does not exist")
    first = rows[0]
    priority, site_lat, site_lon, acuity = first[8:]
    if site_lat is None or site_lon is None:
        raise await _no_coordinates(session, incident_id)
    site = IncidentSite(
        incident_id, LatLon(float(site_lat), float(site_lon)), urgency_of(int(priority), [acuity])
    )
    if first[0] is None:  # the outer join's row when there are no units
        rows = []
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    unit_id, call_sign, unit_type, status, lat_col, lon_col, station_lat, station_lon = columns[:8]
    fix_lat = np.array(lat_col, dtype=np.float64)  # None (no GPS fix yet) becomes NaN
    from_station = np.isnan(fix_lat)
    lat = np.where(from_station, np.array(station_lat, dtype=np.float64), fix_lat)
    lon = np.where(from_station, np.array(station_lon, dtype=np.float64), np.array(lon_col, float))
    available = np.flatnonzero(np.array(status, dtype=object) == UnitStatus.AVAILABLE.value)
    seconds = np.full(len(rows), math.inf)
    problems: list[str | None] = [None] * len(rows)
    found, found_problems = _etas(engine, site, lat[available], lon[available])
    seconds[available] = found
    for i, problem in zip(available.tolist(), found_problems, strict=True):
        problems[i] = problem
    crew_problem: list[str | None] | None = None
    if crew is not None and at is not None:
        uncrewed = await crew(
            session=session, units=[(unit_id[i], unit_type[i]) for i in available], at=at
        )
        crew_problem = [uncrewed.get(u) for u in unit_id]
    units = UnitColumns(
        unit_id=unit_id,
        call_sign=call_sign,
        unit_type=unit_type,
        status=status,
        eta_s=seconds,
        from_station=from_station,
        location_problem=problems,
        crew_problem=crew_problem,
    )
    return UnitRanking(site, units, rank_rows(units, urgency=site.urgency))


async def recommend(
    *,
    session: AsyncSession,
    keyring: Keyring,
    engine: RoutingEngine,
    incident_id: str,
    crew: CrewCheck | None = None,
    at: datetime | None = None,
) -> RecommendationRead:
    """The recommendation as the API returns it (`keyring` is unused: no personal fields)."""
    del keyring
    ranking = await rank_incident(
        session=session, engine=engine, incident_id=incident_id, crew=crew, at=at
    )
    return recommendation_read(ranking)


def recommendation_read(ranking: UnitRanking) -> RecommendationRead:
    """The API's shape, validated in one call instead of one model per unit."""
    u, rows = ranking.units, ranking.rows
    eta = u.eta_s.tolist()
    ranked = [
        {
            "unit_id": u.unit_id[i],
            "call_sign": u.call_sign[i],
            "unit_type": u.unit_type[i],
            "status": u.status[i],
            "rank": n,
            "eta_s": round(eta[i], 1),
            "reason": reason,
        }
        for n, (i, reason) in enumerate(zip(rows.ranked, rows.ranked_reasons, strict=True), 1)
    ]
    excluded = [
        {
            "unit_id": u.unit_id[i],
            "call_sign": u.call_sign[i],
            "unit_type": u.unit_type[i],
            "status": u.status[i],
            "rank": None,
            "eta_s": None if unit_eta is None else round(unit_eta, 1),
            "reason": reason,
        }
        for i, reason, unit_eta in zip(
            rows.excluded, rows.excluded_reasons, rows.excluded_etas, strict=True
        )
    ]
    return RecommendationRead.model_validate(
        {
            "incident_id": ranking.site.id,
            "urgency": rows.urgency,
            "als_required": rows.als_required,
            "incident_position": (ranking.site.position.lat, ranking.site.position.lon),
            "ranked": ranked,
            "excluded": excluded,
        }
    )


async def incident_has_unit(*, session: AsyncSession, incident_id: str) -> bool:
    found = await session.scalar(select(Unit.id).where(Unit.incident_id == incident_id).limit(1))
    return found is not None


# ---- assignment -------------------------------------------------------------------------------


async def assign(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    routing: Routing | None,
    incident_id: str,
    unit_id: str,
    actor: str,
    now: datetime,
) -> AssignmentRead:
    """Send a unit: unit → dispatched and incident → dispatched in one transaction.

    A unit may reinforce an incident already dispatched or on scene (its status then stays);
    any other incident status is a 409 and neither side changes.
    """
    session = uow.session
    unit = await _load(session, unit_id, lock=True)
    current = UnitStatus(unit.status)
    next_status(current, UnitStatus.DISPATCHED)
    site = await incident_site(session=session, keyring=keyring, incident_id=incident_id)
    incident_status = await _incident_status(session, incident_id)
    events: list[Event] = []
    if incident_status not in _REINFORCEABLE_INCIDENT:
        # NEW/TRIAGED move to DISPATCHED; any other status raises InvalidTransition here.
        events.append(
            await incidents.transition(
                session=session,
                incident_id=incident_id,
                target=IncidentStatus.DISPATCHED,
                actor=actor,
                now=now,
                reason=f"unit {unit.call_sign} assigned",
            )
        )
    unit.incident_id = incident_id
    unit.hospital_id = None
    events.insert(0, _log_status(session, unit, current, UnitStatus.DISPATCHED, actor, now))
    eta_s: float | None = None
    route_geojson: dict[str, Any] | None = None
    if routing is not None:
        made = _new_trip(
            engine=routing.engine,
            region=routing.region,
            unit=unit,
            kind="response",
            origin=_unit_position(unit)[0],
            destination=site.position,
            now=now,
        )
        if made is not None:
            trip, route = made
            session.add(trip)
            eta_s = round(route.eta_s, 1)
            route_geojson = route.geojson()
    events.append(
        UnitAssigned(
            unit_id=unit.id,
            call_sign=unit.call_sign,
            incident_id=incident_id,
            eta_s=eta_s,
            actor=actor,
        )
    )
    uow.record(*events)
    await _commit(uow, "unit")
    final = await _incident_status(session, incident_id)
    return AssignmentRead(
        unit=unit_read(unit),
        incident_id=incident_id,
        incident_status=(final or IncidentStatus.DISPATCHED).value,
        eta_s=eta_s,
        route=route_geojson,
    )


# ---- calibration ------------------------------------------------------------------------------


async def list_trips(
    *, session: AsyncSession, state: str | None = None, limit: int = 100, offset: int = 0
) -> Sequence[Trip]:
    stmt = select(Trip).order_by(Trip.created_at.desc(), Trip.id)
    if state is not None:
        stmt = stmt.where(Trip.state == state)
    return (await session.scalars(stmt.limit(limit).offset(offset))).all()


def _calibration_trip(trip: Trip) -> CalibrationTrip | None:
    by_label = {c.label: c for c in RoadClass}
    seconds = {
        by_label[label]: float(s)
        for label, s in (trip.class_seconds or {}).items()
        if label in by_label
    }
    predicted = sum(seconds.values())
    try:
        return CalibrationTrip(
            region=trip.region,
            predicted_s=predicted,
            actual_s=float(trip.actual_s or 0.0),
            class_seconds=seconds,
        )
    except ValidationFailed:
        return None  # zero-length or zero-time trips say nothing about speeds


def _error(predicted: Sequence[float], actual: Sequence[float]) -> EtaErrorRead:
    summary = eta_error(predicted, actual)
    mean = float(np.mean(np.abs(np.subtract(predicted, actual)))) if predicted else 0.0
    return EtaErrorRead(
        trips=summary.trips,
        mean_abs_error_s=round(mean, 2),
        median_abs_error_s=round(summary.median_abs_error_s, 2),
        share_within_2_min=round(summary.share_within_2_min, 4),
    )


async def calibrate(
    *,
    session: AsyncSession,
    region: str | None = None,
    apply_to: Routing | None = None,
) -> list[CalibrationRead]:
    """Fit per-road-class speed factors per region on completed trips; report the ETA error
    (under the uncalibrated profile, and with the fitted factors) and optionally apply them to
    the running engine when the region is the loaded map's."""
    stmt = select(Trip).where(Trip.state == "completed")
    if region is not None:
        stmt = stmt.where(Trip.region == region)
    trips = [t for t in map(_calibration_trip, (await session.scalars(stmt)).all()) if t]
    out: list[CalibrationRead] = []
    for fitted in fit_calibrations(trips).values():
        group = [t for t in trips if t.region == fitted.region]
        actual = [t.actual_s for t in group]
        applied = apply_to is not None and apply_to.region == fitted.region
        if applied and apply_to is not None:
            apply_to.engine.set_speed_factors(fitted.speed_factors)
        out.append(
            CalibrationRead(
                region=fitted.region,
                trips=fitted.trips,
                speed_factors={c.label: round(f, 4) for c, f in fitted.speed_factors.items()},
                before=_error([t.predicted_s for t in group], actual),
                after=_error([calibrated_eta(t, fitted.speed_factors) for t in group], actual),
                applied=applied,
            )
        )
    return out


# ---- map layers -------------------------------------------------------------------------------


async def incident_position(*, session: AsyncSession, incident_id: str) -> LatLon:
    row = (
        await session.execute(
            select(_incidents.c.lat, _incidents.c.lon).where(_incidents.c.id == incident_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    if row.lat is None or row.lon is None:
        raise await _no_coordinates(session, incident_id)
    return LatLon(float(row.lat), float(row.lon))


async def hospital_position(*, session: AsyncSession, hospital_id: str) -> LatLon:
    row = (
        await session.execute(
            select(_hospitals.c.lat, _hospitals.c.lon).where(_hospitals.c.id == hospital_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"hospital {hospital_id} does not exist")
    return LatLon(float(row.lat), float(row.lon))


def _feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


async def units_geojson(*, session: AsyncSession) -> dict[str, Any]:
    """Every unit at its last fix (or its station, `at_station: true`) as GeoJSON points."""
    features = []
    for u in await list_units(session=session):
        position, at_station = _unit_position(u)
        features.append(
            _feature(
                position.lon,
                position.lat,
                {
                    "id": u.id,
                    "call_sign": u.call_sign,
                    "unit_type": u.unit_type,
                    "status": u.status,
                    "incident_id": u.incident_id,
                    "heading": u.heading,
                    "position_at": None if u.position_at is None else as_utc(u.position_at),
                    "at_station": at_station,
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}


async def incidents_geojson(*, session: AsyncSession) -> dict[str, Any]:
    """Open incidents with coordinates as GeoJSON points (no personal fields)."""
    open_statuses = [s.value for s in IncidentStatus if s not in {"closed", "cancelled"}]
    rows = (
        await session.execute(
            select(_incidents)
            .where(
                _incidents.c.status.in_(open_statuses),
                _incidents.c.lat.is_not(None),
                _incidents.c.lon.is_not(None),
            )
            .order_by(_incidents.c.number)
        )
    ).all()
    features = [
        _feature(
            float(r.lon),
            float(r.lat),
            {
                "id": r.id,
                "number": r.number,
                "status": r.status,
                "priority": r.priority,
                "chief_complaint": r.chief_complaint,
                "mci": bool(r.mci),
            },
        )
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}


async def unit_origin(*, session: AsyncSession, unit_id: str) -> LatLon:
    return _unit_position(await _load(session, unit_id))[0]


async def available_positions(*, session: AsyncSession) -> list[LatLon]:
    return [
        _unit_position(u)[0]
        for u in await list_units(session=session, statuses=[UnitStatus.AVAILABLE])
    ]
