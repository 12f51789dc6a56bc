"""Hospitals found in a map extract: `amenity=hospital` nodes, ways and areas (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["HospitalElement", "MapHospital", "extract_hospitals", "ring_centroid"]

OsmKind = Literal["node", "way", "relation"]
Ring = tuple[tuple[float, float], ...]  # (lon, lat) pairs


@dataclass(frozen=True, slots=True)
class HospitalElement:
    """One tagged OSM object as read from the file: its outer rings, lines or single point."""

    kind: OsmKind
    osm_id: int
    tags: Mapping[str, str]
    rings: tuple[Ring, ...]


@dataclass(frozen=True, slots=True)
class MapHospital:
    """A hospital as the map knows it; `emergency` is None when the map does not say."""

    osm_kind: OsmKind
    osm_id: int
    name: str
    lat: float
    lon: float
    emergency: bool | None


def ring_centroid(rings: Iterable[Ring]) -> tuple[float, float]:
    """(lat, lon) of the area-weighted centroid of outer rings; the mean for points and lines."""
    points = [point for ring in rings for point in ring]
    if not points:
        raise ValueError("no coordinates")
    lat0 = math.radians(sum(lat for _, lat in points) / len(points))
    scale = math.cos(lat0)
    area_sum = cx_sum = cy_sum = 0.0
    for ring in rings:
        if len(ring) < 3:
            continue
        xs = [lon * scale for lon, _ in ring]
        ys = [lat for _, lat in ring]
        for i in range(len(ring)):
            j = (i + 1) % len(ring)
            cross = xs[i] * ys[j] - xs[j] * ys[i]
            area_sum += cross
            cx_sum += (xs[i] + xs[j]) * cross
            cy_sum += (ys[i] + ys[j]) * cross
    if abs(area_sum) < 1e-18:
        return (
            sum(lat for _, lat in points) / len(points),
            sum(lon for lon, _ in points) / len(points),
        )
    return cy_sum / (3.0 * area_sum), cx_sum / (3.0 * area_sum) / scale


def _emergency(tags: Mapping[str, str]) -> bool | None:
    value = tags.get("emergency", "").strip().lower()
    if value == "yes":
        return True
    if value == "no":
        return False
    return None


def extract_hospitals(elements: Iterable[HospitalElement]) -> list[MapHospital]:
    """The `amenity=hospital` elements as hospitals at their centroids, sorted by name."""
    found: list[MapHospital] = []
    for element in elements:
        if element.tags.get("amenity") != "hospital" or not any(element.rings):
            continue
        lat, lon = ring_centroid(element.rings)
        name = element.tags.get("name") or element.tags.get("name:en") or ""
        found.append(
            MapHospital(
                osm_kind=element.kind,
                osm_id=element.osm_id,
                name=name,
                lat=lat,
                lon=lon,
                emergency=_emergency(element.tags),
            )
        )
    return sorted(found, key=lambda h: (h.name, h.osm_kind, h.osm_id))
