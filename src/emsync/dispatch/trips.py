"""Trips: each response and transport drive with its predicted ETA, finished or abandoned with
the unit's status, and the per-road-class calibration fitted on completed trips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync import incidents
from emsync.core.clock import as_utc
from emsync.core.errors import NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.dispatch.models import Trip, Unit
from emsync.dispatch.schemas import (
    CalibrationRead,
    EtaErrorRead,
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


async def open_trip(session: AsyncSession, unit_id: str, kind: str) -> Trip | None:
    stmt = select(Trip).where(Trip.unit_id == unit_id, Trip.state == "open", Trip.kind == kind)
    return (await session.scalars(stmt.limit(1))).first()


async def finish_trip(session: AsyncSession, unit_id: str, kind: str, now: datetime) -> None:
    trip = await open_trip(session, unit_id, kind)
    if trip is None:
        return
    trip.ended_at = now
    trip.actual_s = max(0.0, (now - as_utc(trip.started_at)).total_seconds())
    trip.state = "completed" if trip.actual_s > 0 else "abandoned"


async def abandon_trips(session: AsyncSession, unit_id: str, now: datetime) -> None:
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


def new_trip(
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


@dataclass(frozen=True, slots=True)
class Routing:
    """What status changes need from the map to record trips (None: no map, no trips)."""

    engine: RoutingEngine
    region: str


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
