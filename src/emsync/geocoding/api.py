"""Address search as the dispatcher types, and what is at a clicked point (thin routes)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import ValidationFailed
from emsync.core.runtime import RuntimeDep
from emsync.geocoding.index import LatLonPoint
from emsync.geocoding.schemas import GeocodeHitRead
from emsync.geocoding.service import GeocoderService

__all__ = ["router"]

router = APIRouter(prefix="/api/geocode", tags=["geocoding"])

Lat = Annotated[float | None, Query(ge=-90, le=90)]
Lon = Annotated[float | None, Query(ge=-180, le=180)]


def _near(lat: float | None, lon: float | None) -> LatLonPoint | None:
    if (lat is None) != (lon is None):
        raise ValidationFailed("give both lat and lon for the dispatch area, or neither")
    return None if lat is None or lon is None else LatLonPoint(lat, lon)


@router.get("", response_model=list[GeocodeHitRead])
async def search(
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.MAP_READ)],
    q: Annotated[str, Query(min_length=1, max_length=200, description="what was typed")],
    lat: Lat = None,
    lon: Lon = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
    partial: Annotated[
        bool, Query(description="the last word is still being typed (prefix match)")
    ] = True,
) -> list[GeocodeHitRead]:
    """Addresses, streets, crossings ("A & B"), places and POIs of the loaded map, best first;
    `lat`/`lon` (the dispatch area or the map's centre) break ties towards it."""
    near = _near(lat, lon)
    geocoder = await runtime.get(GeocoderService).get()
    hits = geocoder.search(q, near=near, limit=limit, partial=partial)
    return [GeocodeHitRead.of(h) for h in hits]


@router.get("/reverse", response_model=list[GeocodeHitRead])
async def reverse(
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.MAP_READ)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    limit: Annotated[int, Query(ge=1, le=10)] = 3,
) -> list[GeocodeHitRead]:
    """The address at a point (a map click, a device position), else its street and places."""
    geocoder = await runtime.get(GeocoderService).get()
    hits = await asyncio.to_thread(geocoder.reverse, LatLonPoint(lat, lon), limit=limit)
    return [GeocodeHitRead.of(h) for h in hits]
