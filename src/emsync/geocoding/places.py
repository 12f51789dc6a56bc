"""The gazetteer: what a map extract lets a dispatcher find, as flat arrays (pure).

Built from the elements `osm_reader` yields: addresses (`addr:*` on nodes and buildings),
named streets (ways sharing a name and a node are one street), crossings of two streets, named
places and points of interest, and house-number interpolation lines (`addr:interpolation`)
whose end nodes carry numbers. Each entry knows its locality (its `addr:city`, else the nearest
`place=*` node), which tells apart the many "Triq il-Kbira" of Malta or "Hauptstraße" of a
German district.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from emsync.geocoding.text import normalize

__all__ = [
    "AddressElement",
    "Gazetteer",
    "InterpolationElement",
    "NamedElement",
    "PlaceKind",
    "StreetElement",
    "build_gazetteer",
    "project",
]

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
_LOCALITY_TYPES = ("city", "town", "village", "suburb", "borough", "quarter", "hamlet")
_MERGE_M = 150.0  # same-name pieces of street this close are one street (split by a square)
_LOCALITY_MAX_M = 8000.0


class PlaceKind(IntEnum):
    ADDRESS = 0
    STREET = 1
    POI = 2
    LOCALITY = 3
    INTERSECTION = 4  # only in hits: crossings are stored in their own arrays


@dataclass(frozen=True, slots=True)
class AddressElement:
    housenumber: str
    street: str  # addr:street, else addr:place
    city: str
    postcode: str
    lat: float
    lon: float
    node_id: int  # the OSM node carrying the address, 0 for a building's centroid


@dataclass(frozen=True, slots=True)
class StreetElement:
    name: str
    highway: str
    refs: tuple[int, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class NamedElement:
    name: str
    category: str  # the tag value that makes it a place: hospital, school, village, ...
    is_locality: bool
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class InterpolationElement:
    scheme: str  # odd, even, all
    street: str
    refs: tuple[int, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Gazetteer:
    """Entries (addresses, streets, POIs, localities), street lines, crossings, interpolations."""

    kind: npt.NDArray[np.uint8]
    name: npt.NDArray[np.str_]  # the street of an address; the name of anything else
    housenumber: npt.NDArray[np.str_]
    locality: npt.NDArray[np.str_]
    postcode: npt.NDArray[np.str_]
    category: npt.NDArray[np.str_]
    lat: F64
    lon: F64
    street_of: I32  # an address's street entry, else -1
    line_entry: I32  # street entry of each point sampled along the streets (reverse geocoding)
    line_lat: F64
    line_lon: F64
    cross_a: I32  # street entries a < b that cross at (cross_lat, cross_lon)
    cross_b: I32
    cross_lat: F64
    cross_lon: F64
    interp_street: I32  # street entry of each interpolation segment
    interp_first: npt.NDArray[np.int64]  # house numbers at the segment's ends
    interp_last: npt.NDArray[np.int64]
    interp_step: npt.NDArray[np.int64]
    interp_offsets: npt.NDArray[
        np.int64
    ]  # segment i's points are interp_*[offsets[i]:offsets[i+1]]
    interp_lat: F64
    interp_lon: F64

    @property
    def size(self) -> int:
        return int(self.kind.shape[0])

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def project(lat: F64, lon: F64, lat0: float) -> npt.NDArray[np.float64]:
    """Metres east and north on a plane tangent at latitude `lat0` (fine within a region)."""
    x = np.radians(lon) * 6_371_008.8 * np.cos(np.radians(lat0))
    y = np.radians(lat) * 6_371_008.8
    return np.column_stack([x, y])


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


@dataclass(slots=True)
class _Street:
    name: str
    highway: str
    lats: list[float]
    lons: list[float]
    refs: set[int]


def _group_streets(ways: Sequence[StreetElement], lat0: float) -> list[_Street]:
    """Ways of one normalized name that touch (or nearly) are one street."""
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, way in enumerate(ways):
        by_name[normalize(way.name)].append(i)
    streets: list[_Street] = []
    for members in by_name.values():
        uf = _UnionFind(len(members))
        owner: dict[int, int] = {}
        for k, i in enumerate(members):
            for ref in ways[i].refs:
                if ref in owner:
                    uf.union(k, owner[ref])
                owner[ref] = k
        if len(members) > 1:  # pieces split by a square or a roundabout
            pts = [(k, la, lo) for k, i in enumerate(members) for la, lo in _ends(ways[i])]
            xy = project(np.array([p[1] for p in pts]), np.array([p[2] for p in pts]), lat0)
            for a, b in cKDTree(xy).query_pairs(_MERGE_M):
                uf.union(pts[a][0], pts[b][0])
        groups: dict[int, list[int]] = defaultdict(list)
        for k, i in enumerate(members):
            groups[uf.find(k)].append(i)
        for group in groups.values():
            longest = max(group, key=lambda i: len(ways[i].refs))
            street = _Street(ways[longest].name, ways[longest].highway, [], [], set())
            for i in group:
                street.lats.extend(ways[i].lats)
                street.lons.extend(ways[i].lons)
                street.refs.update(ways[i].refs)
            streets.append(street)
    return streets


def _ends(way: StreetElement) -> list[tuple[float, float]]:
    return [(way.lats[0], way.lons[0]), (way.lats[-1], way.lons[-1])]


def _densify(lats: Sequence[float], lons: Sequence[float], step_m: float) -> tuple[F64, F64]:
    lat = np.asarray(lats, dtype=np.float64)
    lon = np.asarray(lons, dtype=np.float64)
    if lat.shape[0] < 2:
        return lat, lon
    xy = project(lat, lon, float(lat[0]))
    seg = np.hypot(*(xy[1:] - xy[:-1]).T)
    parts = np.maximum(1, np.ceil(seg / step_m)).astype(np.int64)
    t = np.concatenate([np.arange(p) / p for p in parts])
    i = np.repeat(np.arange(seg.shape[0]), parts)
    out_lat = lat[i] + (lat[i + 1] - lat[i]) * t
    out_lon = lon[i] + (lon[i + 1] - lon[i]) * t
    return np.append(out_lat, lat[-1]), np.append(out_lon, lon[-1])


def _localities(named: Sequence[NamedElement], lat0: float) -> tuple[cKDTree | None, list[str]]:
    places = [n for n in named if n.is_locality and n.category in _LOCALITY_TYPES]
    if not places:
        return None, []
    xy = project(np.array([p.lat for p in places]), np.array([p.lon for p in places]), lat0)
    return cKDTree(xy), [p.name for p in places]


def _nearest_locality(
    tree: cKDTree | None, names: list[str], lat: F64, lon: F64, lat0: float
) -> list[str]:
    if tree is None or lat.shape[0] == 0:
        return [""] * int(lat.shape[0])
    dist, idx = tree.query(project(lat, lon, lat0), distance_upper_bound=_LOCALITY_MAX_M)
    return [names[i] if np.isfinite(d) else "" for d, i in zip(dist, idx, strict=True)]


def _leading_number(housenumber: str) -> int | None:
    digits = ""
    for c in housenumber.strip():
        if not c.isdigit():
            break
        digits += c
    return int(digits) if digits else None


@dataclass(slots=True)
class _Rows:
    kind: list[int]
    name: list[str]
    housenumber: list[str]
    locality: list[str]
    postcode: list[str]
    category: list[str]
    lat: list[float]
    lon: list[float]
    street_of: list[int]

    def add(self, kind: PlaceKind, name: str, lat: float, lon: float, **extra: str | int) -> int:
        self.kind.append(int(kind))
        self.name.append(name)
        self.housenumber.append(str(extra.get("housenumber", "")))
        self.locality.append(str(extra.get("locality", "")))
        self.postcode.append(str(extra.get("postcode", "")))
        self.category.append(str(extra.get("category", "")))
        self.lat.append(lat)
        self.lon.append(lon)
        self.street_of.append(int(extra.get("street_of", -1)))
        return len(self.kind) - 1


def _street_rows(
    rows: _Rows, streets: list[_Street]
) -> tuple[dict[str, list[int]], list[int], list[float], list[float]]:
    """One entry per street at the node nearest its middle; points along it for reverse."""
    by_name: dict[str, list[int]] = defaultdict(list)
    line_entry: list[int] = []
    line_lat: list[float] = []
    line_lon: list[float] = []
    for street in streets:
        lat = np.asarray(street.lats)
        lon = np.asarray(street.lons)
        middle = int(np.argmin((lat - lat.mean()) ** 2 + (lon - lon.mean()) ** 2))
        entry = rows.add(
            PlaceKind.STREET,
            street.name,
            float(lat[middle]),
            float(lon[middle]),
            category=street.highway,
        )
        by_name[normalize(street.name)].append(entry)
        dlat, dlon = _densify(street.lats, street.lons, 15.0)
        line_entry.extend([entry] * int(dlat.shape[0]))
        line_lat.extend(dlat.tolist())
        line_lon.extend(dlon.tolist())
    return by_name, line_entry, line_lat, line_lon


def _crossings(
    ways: Sequence[StreetElement], streets: list[_Street], first_entry: int
) -> tuple[list[int], list[int], list[float], list[float]]:
    """Nodes shared by two different streets; one point per pair and 200 m."""
    node_streets: dict[int, set[int]] = defaultdict(set)
    for s, street in enumerate(streets):
        for ref in street.refs:
            node_streets[ref].add(first_entry + s)
    where: dict[int, tuple[float, float]] = {}
    for way in ways:
        for ref, la, lo in zip(way.refs, way.lats, way.lons, strict=True):
            if len(node_streets.get(ref, ())) > 1:
                where[ref] = (la, lo)
    kept: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for ref, (la, lo) in where.items():
        members = sorted(node_streets[ref])
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                seen = kept[(a, b)]
                if all(abs(la - p) + abs(lo - q) * 0.7 > 0.0018 for p, q in seen):
                    seen.append((la, lo))
    out_a, out_b, out_lat, out_lon = [], [], [], []
    for (a, b), points in kept.items():
        for la, lo in points:
            out_a.append(a)
            out_b.append(b)
            out_lat.append(la)
            out_lon.append(lo)
    return out_a, out_b, out_lat, out_lon


def _nearest_street(candidates: list[int], rows: _Rows, lat: float, lon: float) -> int:
    if not candidates:
        return -1
    return min(candidates, key=lambda e: (rows.lat[e] - lat) ** 2 + (rows.lon[e] - lon) ** 2)


@dataclass(slots=True)
class _Interpolations:
    street: list[int]
    first: list[int]
    last: list[int]
    step: list[int]
    offsets: list[int]
    lat: list[float]
    lon: list[float]


def _interpolations(
    lines: Iterable[InterpolationElement],
    numbers: dict[int, tuple[int, str]],
    streets_by_name: dict[str, list[int]],
    rows: _Rows,
) -> _Interpolations:
    """Segments between numbered nodes of `addr:interpolation` ways."""
    out = _Interpolations([], [], [], [], [0], [], [])
    for line in lines:
        step = 1 if line.scheme == "all" else 2 if line.scheme in ("odd", "even") else 0
        if step == 0:
            continue  # alphabetic and explicit lists: nothing to interpolate numerically
        numbered = [k for k, ref in enumerate(line.refs) if ref in numbers]
        for k0, k1 in itertools.pairwise(numbered):
            h0, street0 = numbers[line.refs[k0]]
            h1, _ = numbers[line.refs[k1]]
            name = normalize(line.street or street0)
            entry = _nearest_street(
                streets_by_name.get(name, []), rows, line.lats[k0], line.lons[k0]
            )
            if entry < 0 or h0 == h1:
                continue
            out.street.append(entry)
            out.first.append(h0)
            out.last.append(h1)
            out.step.append(step)
            out.lat.extend(line.lats[k0 : k1 + 1])
            out.lon.extend(line.lons[k0 : k1 + 1])
            out.offsets.append(len(out.lat))
    return out


def _borrow_cities(
    locality: list[str], kinds: npt.NDArray[np.uint8], lat: F64, lon: F64, lat0: float
) -> None:
    """Where no place node is near (extracts cut from a district), the `addr:city` of the
    nearest address within 1.5 km names the locality."""
    with_city = [i for i, k in enumerate(kinds) if k == PlaceKind.ADDRESS and locality[i]]
    missing = [i for i, k in enumerate(kinds) if k != PlaceKind.LOCALITY and not locality[i]]
    if not with_city or not missing:
        return
    tree = cKDTree(project(lat[with_city], lon[with_city], lat0))
    dist, idx = tree.query(project(lat[missing], lon[missing], lat0), distance_upper_bound=1500.0)
    for i, d, j in zip(missing, dist, idx, strict=True):
        if np.isfinite(d):
            locality[i] = locality[with_city[j]]


def build_gazetteer(
    addresses: Sequence[AddressElement],
    ways: Sequence[StreetElement],
    named: Sequence[NamedElement],
    interpolations: Sequence[InterpolationElement],
) -> Gazetteer:
    """The searchable entries of one extract."""
    every_lat = [a.lat for a in addresses] + [w.lats[0] for w in ways] + [n.lat for n in named]
    lat0 = float(np.mean(every_lat)) if every_lat else 0.0
    rows = _Rows([], [], [], [], [], [], [], [], [])
    streets = _group_streets(ways, lat0)
    streets_by_name, line_entry, line_lat, line_lon = _street_rows(rows, streets)
    cross_a, cross_b, cross_lat, cross_lon = _crossings(ways, streets, 0)
    numbers: dict[int, tuple[int, str]] = {}
    for address in addresses:
        entry = _nearest_street(
            streets_by_name.get(normalize(address.street), []), rows, address.lat, address.lon
        )
        rows.add(
            PlaceKind.ADDRESS,
            address.street,
            address.lat,
            address.lon,
            housenumber=address.housenumber,
            locality=address.city,
            postcode=address.postcode,
            street_of=entry,
        )
        number = _leading_number(address.housenumber)
        if address.node_id and number is not None:
            numbers[address.node_id] = (number, address.street)
    for element in named:
        kind = PlaceKind.LOCALITY if element.is_locality else PlaceKind.POI
        rows.add(kind, element.name, element.lat, element.lon, category=element.category)
    interp = _interpolations(interpolations, numbers, streets_by_name, rows)

    lat = np.asarray(rows.lat, dtype=np.float64)
    lon = np.asarray(rows.lon, dtype=np.float64)
    tree, names = _localities(named, lat0)
    nearest = _nearest_locality(tree, names, lat, lon, lat0)
    kinds = np.asarray(rows.kind, dtype=np.uint8)
    locality = [
        given or ("" if k == PlaceKind.LOCALITY else near)
        for given, near, k in zip(rows.locality, nearest, kinds, strict=True)
    ]
    _borrow_cities(locality, kinds, lat, lon, lat0)
    return Gazetteer(
        kind=kinds,
        name=np.asarray(rows.name, dtype=np.str_),
        housenumber=np.asarray(rows.housenumber, dtype=np.str_),
        locality=np.asarray(locality, dtype=np.str_),
        postcode=np.asarray(rows.postcode, dtype=np.str_),
        category=np.asarray(rows.category, dtype=np.str_),
        lat=lat,
        lon=lon,
        street_of=np.asarray(rows.street_of, dtype=np.int32),
        line_entry=np.asarray(line_entry, dtype=np.int32),
        line_lat=np.asarray(line_lat, dtype=np.float64),
        line_lon=np.asarray(line_lon, dtype=np.float64),
        cross_a=np.asarray(cross_a, dtype=np.int32),
        cross_b=np.asarray(cross_b, dtype=np.int32),
        cross_lat=np.asarray(cross_lat, dtype=np.float64),
        cross_lon=np.asarray(cross_lon, dtype=np.float64),
        interp_street=np.asarray(interp.street, dtype=np.int32),
        interp_first=np.asarray(interp.first, dtype=np.int64),
        interp_last=np.asarray(interp.last, dtype=np.int64),
        interp_step=np.asarray(interp.step, dtype=np.int64),
        interp_offsets=np.asarray(interp.offsets, dtype=np.int64),
        interp_lat=np.asarray(interp.lat, dtype=np.float64),
        interp_lon=np.asarray(interp.lon, dtype=np.float64),
    )
