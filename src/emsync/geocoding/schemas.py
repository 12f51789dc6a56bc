"""Geocoding answers on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from emsync.geocoding.index import GeocodeHit

__all__ = ["GeocodeHitRead", "HitKind"]

HitKind = Literal["address", "street", "poi", "locality", "intersection"]


class GeocodeHitRead(BaseModel):
    """A place found for what was typed (or at a point): where it is and how it was found."""

    kind: HitKind
    label: str
    lat: float
    lon: float
    score: float
    name: str
    housenumber: str
    locality: str
    postcode: str
    category: str
    interpolated: bool
    note: str
    distance_m: float | None

    @classmethod
    def of(cls, hit: GeocodeHit) -> GeocodeHitRead:
        return cls(
            kind=hit.kind.name.lower(),
            label=hit.label,
            lat=hit.lat,
            lon=hit.lon,
            score=hit.score,
            name=hit.name,
            housenumber=hit.housenumber,
            locality=hit.locality,
            postcode=hit.postcode,
            category=hit.category,
            interpolated=hit.interpolated,
            note=hit.note,
            distance_m=hit.distance_m,
        )
