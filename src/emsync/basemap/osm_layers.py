"""What the basemap draws, read from an `.osm.pbf` file with pyosmium (I/O).

Roads (with their names for labels), water (areas and rivers), green areas (parks, woods,
grass), buildings and named places. Areas, multipolygons included, are assembled by libosmium
(it needs a file sorted by type then id, which Geofabrik and BBBike extracts are).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import osmium
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from emsync.core.errors import NotFound, ValidationFailed

__all__ = ["MapLayers", "read_map_layers"]

_WATER_AREAS = {
    ("natural", "water"),
    ("landuse", "reservoir"),
    ("waterway", "riverbank"),
    ("landuse", "basin"),
    ("natural", "bay"),
}
_WATER_LINES = frozenset({"river", "stream", "canal"})
_GREEN = {
    ("leisure", "park"),
    ("leisure", "garden"),
    ("leisure", "pitch"),
    ("leisure", "recreation_ground"),
    ("landuse", "grass"),
    ("landuse", "forest"),
    ("landuse", "meadow"),
    ("landuse", "recreation_ground"),
    ("landuse", "cemetery"),
    ("landuse", "village_green"),
    ("natural", "wood"),
    ("natural", "scrub"),
    ("natural", "grassland"),
    ("natural", "heath"),
}
_PLACES = frozenset({"city", "town", "village", "suburb", "quarter", "neighbourhood", "hamlet"})


@dataclass(frozen=True, slots=True)
class MapFeature:
    geometry: BaseGeometry  # lon/lat
    properties: dict[str, str]


@dataclass(slots=True)
class MapLayers:
    roads: list[MapFeature] = field(default_factory=list)
    water: list[MapFeature] = field(default_factory=list)
    green: list[MapFeature] = field(default_factory=list)
    buildings: list[MapFeature] = field(default_factory=list)
    places: list[MapFeature] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[MapFeature]]:
        return {
            "water": self.water,
            "green": self.green,
            "buildings": self.buildings,
            "roads": self.roads,
            "places": self.places,
        }


def _has(tags: osmium.osm.TagList, pairs: set[tuple[str, str]]) -> bool:
    return any(tags.get(k) == v for k, v in pairs)


def _polygon(area: osmium.osm.Area) -> BaseGeometry | None:
    parts = []
    for outer in area.outer_rings():
        shell = [(n.lon, n.lat) for n in outer if n.location.valid()]
        if len(shell) < 4:
            continue
        holes = [
            [(n.lon, n.lat) for n in inner if n.location.valid()]
            for inner in area.inner_rings(outer)
        ]
        parts.append(Polygon(shell, [h for h in holes if len(h) >= 4]))
    if not parts:
        return None
    geometry = parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


def _area(area: osmium.osm.Area, out: MapLayers) -> None:
    tags = area.tags
    target = None
    if _has(tags, _WATER_AREAS):
        target = out.water
    elif _has(tags, _GREEN):
        target = out.green
    elif "building" in tags and tags.get("building") != "no":
        target = out.buildings
    if target is None:
        return
    polygon = _polygon(area)
    if polygon is not None and not polygon.is_empty:
        target.append(MapFeature(polygon, {}))


def _way(way: osmium.osm.Way, out: MapLayers) -> None:
    tags = way.tags
    highway = tags.get("highway")
    waterway = tags.get("waterway")
    if highway is None and waterway not in _WATER_LINES:
        return
    coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
    if len(coords) < 2:
        return
    line = LineString(coords)
    if highway is not None and tags.get("area") != "yes":
        props = {"kind": highway}
        if name := tags.get("name"):
            props["name"] = name
        out.roads.append(MapFeature(line, props))
    elif waterway in _WATER_LINES:
        out.water.append(MapFeature(line, {"kind": waterway}))


def read_map_layers(path: Path) -> MapLayers:
    """The basemap's features in `path`, in lon/lat."""
    if not path.is_file():
        raise NotFound(f"map file {path} does not exist")
    out = MapLayers()
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas(
            osmium.filter.KeyFilter("building", "natural", "landuse", "leisure", "waterway")
        )
        .with_filter(
            osmium.filter.KeyFilter(
                "highway", "waterway", "building", "natural", "landuse", "leisure", "place"
            )
        )
    )
    try:
        for obj in processor:
            if isinstance(obj, osmium.osm.Area):
                _area(obj, out)
            elif isinstance(obj, osmium.osm.Way):
                _way(obj, out)
            elif isinstance(obj, osmium.osm.Node):
                place = obj.tags.get("place")
                name = obj.tags.get("name")
                if place in _PLACES and name and obj.location.valid():
                    point = Point(obj.location.lon, obj.location.lat)
                    out.places.append(MapFeature(point, {"kind": place, "name": name}))
    except RuntimeError as error:
        raise ValidationFailed(f"cannot read map file {path}: {error}") from error
    return out
