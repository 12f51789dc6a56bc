"""Unit use cases: the unit register, position, status (with its trips) and assignment. The
recommendation, trips and calibration, and the map layers have modules of their own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from emsync import hospitals, incidents
from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound, ValidationFailed
from emsync.core.events import Event
from emsync.core.ids import new_id
from emsync.core.uow import UnitOfWork
from emsync.dispatch.events import (
    DestinationChosen,
    UnitAssigned,
    UnitCreated,
    UnitPositionChanged,
    UnitStatusChanged,
    UnitUpdated,
)
from emsync.dispatch.lifecycle import UnitStatus, can_move, next_status
from emsync.dispatch.models import Unit, UnitStatusEntry
from emsync.dispatch.ranking import (
    UnitType,
)
from emsync.dispatch.recommendation import incident_site
from emsync.dispatch.schemas import (
    AssignmentRead,
    PositionUpdate,
    UnitCreate,
    UnitRead,
    UnitStatusChange,
    UnitUpdate,
)
from emsync.dispatch.trips import Routing, abandon_trips, finish_trip, new_trip, open_trip
from emsync.routing import (
    LatLon,
)

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


def unit_read(u: Unit) -> UnitRead:
    return UnitRead.model_validate(u)


async def load_unit(session: AsyncSession, unit_id: str, *, lock: bool = False) -> Unit:
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
    return unit_read(await load_unit(session, unit_id))


async def update_unit(
    *, uow: UnitOfWork, unit_id: str, data: UnitUpdate, now: datetime
) -> UnitRead:
    unit = await load_unit(uow.session, unit_id, lock=True)
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
    unit = await load_unit(uow.session, unit_id, lock=True)
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


def unit_position(unit: Unit) -> tuple[LatLon, bool]:
    """Where the unit is: its last fix, else its home station (True when from the station)."""
    if unit.lat is not None and unit.lon is not None:
        return LatLon(unit.lat, unit.lon), False
    return LatLon(unit.station_lat, unit.station_lon), True


async def _incident_status(session: AsyncSession, incident_id: str) -> IncidentStatus | None:
    return await incidents.incident_status(session=session, incident_id=incident_id)


async def _transport_to(
    session: AsyncSession,
    routing: Routing | None,
    unit: Unit,
    *,
    hospital_id: str,
    actor: str,
    now: datetime,
) -> DestinationChosen:
    """The unit takes its patient to the hospital: a transport trip with its ETA (when the map
    can route it), and the event the handoff bridge drafts from."""
    destination = await hospitals.hospital_position(session=session, hospital_id=hospital_id)
    if destination is None:
        raise NotFound(f"hospital {hospital_id} does not exist")
    unit.hospital_id = hospital_id
    eta: datetime | None = None
    if routing is not None:
        made = new_trip(
            engine=routing.engine,
            region=routing.region,
            unit=unit,
            kind="transport",
            origin=unit_position(unit)[0],
            destination=LatLon(*destination),
            now=now,
        )
        if made is not None:
            session.add(made[0])
            eta = now + timedelta(seconds=made[0].predicted_s)
    return DestinationChosen(
        unit_id=unit.id,
        incident_id=unit.incident_id,
        hospital_id=hospital_id,
        eta=eta,
        actor=actor,
    )


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
    unit = await load_unit(session, unit_id, lock=True)
    current = UnitStatus(unit.status)
    next_status(current, target)
    events: list[Event] = []
    if target is UnitStatus.EN_ROUTE:
        trip = await open_trip(session, unit.id, "response")
        if trip is not None:
            trip.started_at = now  # the drive starts now, not when the call was taken
    elif target is UnitStatus.ON_SCENE:
        await finish_trip(session, unit.id, "response", now)
    elif target is UnitStatus.TRANSPORTING and change.hospital_id is not None:
        events.append(
            await _transport_to(
                session, routing, unit, hospital_id=change.hospital_id, actor=actor, now=now
            )
        )
    elif target is UnitStatus.AT_HOSPITAL:
        await finish_trip(session, unit.id, "transport", now)
    elif target is UnitStatus.AVAILABLE and current is not UnitStatus.OUT_OF_SERVICE:
        await abandon_trips(session, unit.id, now)
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


async def release_units_of_ended_call(
    *, session: AsyncSession, incident_id: str, actor: str, now: datetime
) -> list[UnitStatusChanged]:
    """A cancelled or closed incident frees its units: each one the lifecycle lets stand down goes
    back to available (its status log and UnitStatusChanged record it, by that actor; its open
    trips are abandoned). A transporting unit carries a patient: it keeps going to hospital and
    the crew clears it there."""
    units = await session.scalars(
        select(Unit).where(Unit.incident_id == incident_id).with_for_update()
    )
    events: list[UnitStatusChanged] = []
    for unit in units:
        current = UnitStatus(unit.status)
        if not can_move(current, UnitStatus.AVAILABLE):
            continue
        await abandon_trips(session, unit.id, now)
        events.append(_log_status(session, unit, current, UnitStatus.AVAILABLE, actor, now))
        unit.incident_id = None
        unit.hospital_id = None
    return events


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
    unit = await load_unit(session, unit_id, lock=True)
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
        made = new_trip(
            engine=routing.engine,
            region=routing.region,
            unit=unit,
            kind="response",
            origin=unit_position(unit)[0],
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
