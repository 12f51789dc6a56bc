"""Reading what can be searched for from an `.osm.pbf` file, with pyosmium (I/O).

One pass over the file with node locations: address nodes and buildings (`addr:housenumber`),
named roads, `addr:interpolation` lines, and named places and points of interest. Address and
POI multipolygons (a hospital mapped as a relation) are assembled by libosmium and stand at
the mean of their outer rings' nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import osmium

from emsync.core.errors import NotFound, ValidationFailed
from emsync.geocoding.places import (
    AddressElement,
    InterpolationElement,
    NamedElement,
    StreetElement,
)

__all__ = ["MapElements", "read_map_elements"]

# Roads people give as an address; footways and tracks are left to the POIs along them.
_STREET_HIGHWAYS = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "pedestrian",
        "road",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
        "tertiary_link",
    }
)
# Keys whose value names what a point of interest is, most telling first.
_POI_KEYS = (
    "amenity",
    "healthcare",
    "emergency",
    "shop",
    "tourism",
    "leisure",
    "office",
    "public_transport",
    "railway",
    "aeroway",
    "historic",
    "man_made",
    "sport",
    "building",
)
_POI_VALUES_SKIPPED = frozenset({"yes", "no", "platform", "stop_position"})


@dataclass(slots=True)
class MapElements:
    addresses: list[AddressElement] = field(default_factory=list)
    streets: list[StreetElement] = field(default_factory=list)
    named: list[NamedElement] = field(default_factory=list)
    interpolations: list[InterpolationElement] = field(default_factory=list)


def _category(tags: osmium.osm.TagList) -> str | None:
    for key in _POI_KEYS:
        value = tags.get(key)
        if value and value not in _POI_VALUES_SKIPPED:
            return value
    return None


def _address(tags: osmium.osm.TagList, lat: float, lon: float, node_id: int) -> AddressElement:
    return AddressElement(
        housenumber=(tags.get("addr:housenumber") or "").strip(),
        street=(tags.get("addr:street") or tags.get("addr:place") or "").strip(),
        city=(tags.get("addr:city") or tags.get("addr:suburb") or "").strip(),
        postcode=(tags.get("addr:postcode") or "").strip(),
        lat=lat,
        lon=lon,
        node_id=node_id,
    )


def _node(node: osmium.osm.Node, out: MapElements) -> None:
    if not node.location.valid():
        return
    tags = node.tags
    lat, lon = node.location.lat, node.location.lon
    if "addr:housenumber" in tags:
        out.addresses.append(_address(tags, lat, lon, node.id))
    name = tags.get("name")
    if not name:
        return
    if "place" in tags:
        out.named.append(NamedElement(name, tags["place"], True, lat, lon))
    elif (category := _category(tags)) is not None:
        out.named.append(NamedElement(name, category, False, lat, lon))


def _way(way: osmium.osm.Way, out: MapElements) -> None:
    tags = way.tags
    located = [n for n in way.nodes if n.location.valid()]
    if len(located) < 1:
        return
    lats = tuple(n.location.lat for n in located)
    lons = tuple(n.location.lon for n in located)
    refs = tuple(n.ref for n in located)
    name = tags.get("name")
    scheme = tags.get("addr:interpolation")
    if scheme is not None and len(located) >= 2:
        street = tags.get("addr:street") or ""
        out.interpolations.append(InterpolationElement(scheme, street, refs, lats, lons))
        return
    if name and tags.get("highway") in _STREET_HIGHWAYS and len(located) >= 2:
        out.streets.append(StreetElement(name, tags["highway"], refs, lats, lons))
        return
    # A building or area: its nodes' mean stands for it (closed rings repeat the first node).
    ring = located[:-1] if way.is_closed() and len(located) > 1 else located
    lat = sum(n.location.lat for n in ring) / len(ring)
    lon = sum(n.location.lon for n in ring) / len(ring)
    if "addr:housenumber" in tags:
        out.addresses.append(_address(tags, lat, lon, 0))
    if name and "highway" not in tags:
        if "place" in tags:
            out.named.append(NamedElement(name, tags["place"], True, lat, lon))
        elif (category := _category(tags)) is not None:
            out.named.append(NamedElement(name, category, False, lat, lon))


def _area(area: osmium.osm.Area, out: MapElements) -> None:
    if area.from_way():
        return  # closed ways were read as ways
    points = [(n.lat, n.lon) for ring in area.outer_rings() for n in ring if n.location.valid()]
    if not points:
        return
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    tags = area.tags
    if "addr:housenumber" in tags:
        out.addresses.append(_address(tags, lat, lon, 0))
    name = tags.get("name")
    if name and "highway" not in tags and (category := _category(tags)) is not None:
        out.named.append(NamedElement(name, category, False, lat, lon))


def read_map_elements(path: Path) -> MapElements:
    """Addresses, named streets, interpolation lines, places and POIs of `path`."""
    if not path.is_file():
        raise NotFound(f"map file {path} does not exist")
    out = MapElements()
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas(osmium.filter.KeyFilter("name", "addr:housenumber"))
        .with_filter(osmium.filter.KeyFilter("addr:housenumber", "name", "addr:interpolation"))
    )
    try:
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                _node(obj, out)
            elif isinstance(obj, osmium.osm.Way):
                _way(obj, out)
            elif isinstance(obj, osmium.osm.Area):
                _area(obj, out)
    except RuntimeError as error:  # libosmium's messages for corrupt or truncated files
        raise ValidationFailed(f"cannot read map file {path}: {error}") from error
    return out
