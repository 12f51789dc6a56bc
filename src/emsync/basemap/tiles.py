"""Vector tiles (Mapbox Vector Tile 2.1) of the basemap's layers, zoom by zoom (pure).

Geometries are projected once to Web Mercator in units of the world (0..1); each tile takes
the features its bounds touch (an STR-tree query), moves them to its 4096-unit grid, clips them
with a small buffer (so strokes and labels cross tile edges cleanly), simplifies them to about
a grid unit, and encodes the layers. Buildings and minor roads appear only where they can be
seen (zoom 15 and 13 on; below 12 the main roads only); place names everywhere.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mapbox_vector_tile
import numpy as np
import numpy.typing as npt
import shapely
from shapely.strtree import STRtree

from emsync.basemap.osm_layers import MapFeature, MapLayers

__all__ = ["EXTENT", "MAX_ZOOM", "MIN_ZOOM", "Tile", "tile_range", "vector_tiles"]

EXTENT = 4096
BUFFER = 64
MIN_ZOOM = 10  # a whole region extract fits the first view at zoom 10-12
MAX_ZOOM = 15  # the client draws (and labels) zoom 16+ from zoom 15 data
_MINOR_ROADS = frozenset(
    {"residential", "service", "living_street", "unclassified", "pedestrian", "track", "road"}
)
_PATHS = frozenset({"footway", "path", "cycleway", "steps", "bridleway", "corridor"})
_MAIN_ROADS = frozenset(
    {"motorway", "trunk", "primary", "secondary", "motorway_link", "trunk_link", "primary_link"}
)


@dataclass(frozen=True, slots=True)
class Tile:
    z: int
    x: int
    y: int
    data: bytes  # gzip-compressed MVT


def _mercator(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    x = (lon + 180.0) / 360.0
    clipped = np.clip(lat, -85.0511, 85.0511)
    y = (
        1.0 - np.log(np.tan(np.radians(clipped)) + 1.0 / np.cos(np.radians(clipped))) / math.pi
    ) / 2.0
    return np.column_stack([x, y])


def _project(geometries: list[shapely.Geometry]) -> npt.NDArray[np.object_]:
    def to_world(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return _mercator(coords[:, 0], coords[:, 1])

    return np.asarray(shapely.transform(np.asarray(geometries, dtype=object), to_world))


def _visible(layer: str, props: dict[str, str], z: int) -> bool:
    if layer == "buildings":
        return z >= 15
    if layer == "roads":
        kind = props.get("kind", "")
        if kind in _PATHS:
            return z >= 15
        if kind in _MINOR_ROADS:
            return z >= 13
        if z < 12:
            return kind in _MAIN_ROADS
    return True


@dataclass(slots=True)
class _Layer:
    name: str
    features: list[MapFeature]
    world: npt.NDArray[np.object_]
    tree: STRtree


def tile_range(bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """Tile columns and rows (x0, y0, x1, y1, inclusive) covering a lon/lat bbox at zoom z."""
    west, south, east, north = bbox
    corners = _mercator(np.array([west, east]), np.array([north, south]))
    n = 2**z
    x0, y0 = (np.floor(corners[0] * n)).astype(int)
    x1, y1 = (np.floor(corners[1] * n)).astype(int)
    return int(max(x0, 0)), int(max(y0, 0)), int(min(x1, n - 1)), int(min(y1, n - 1))


def _to_grid(
    world: npt.NDArray[np.object_], scale: float, dx: float, dy: float
) -> npt.NDArray[np.object_]:
    """World (0..1) coordinates to one tile's grid."""

    def move(c: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack([c[:, 0] * scale - dx, c[:, 1] * scale - dy])

    return np.asarray(shapely.transform(world, move))


def _encode(layers: list[_Layer], z: int, x: int, y: int) -> bytes | None:
    n = 2**z
    pad = BUFFER / EXTENT / n
    box = shapely.box(x / n - pad, y / n - pad, (x + 1) / n + pad, (y + 1) / n + pad)
    out = []
    for layer in layers:
        hits = layer.tree.query(box)
        if hits.size == 0:
            continue
        keep = [int(i) for i in hits if _visible(layer.name, layer.features[int(i)].properties, z)]
        if not keep:
            continue
        grid = _to_grid(layer.world[keep], n * EXTENT, x * EXTENT, y * EXTENT)
        grid = shapely.clip_by_rect(grid, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
        grid = shapely.simplify(grid, 1.0 if z < MAX_ZOOM else 0.5)
        # MVT wants exterior rings clockwise on screen (y down): counter-clockwise in these raw
        # coordinates. Orienting here, vectorized, lets the encoder skip its per-ring check.
        grid = shapely.orient_polygons(grid, exterior_cw=False)
        features = [
            {"geometry": g, "properties": layer.features[i].properties}
            for g, i in zip(grid, keep, strict=True)
            if not g.is_empty
        ]
        if features:
            out.append({"name": layer.name, "features": features})
    if not out:
        return None
    raw = mapbox_vector_tile.encode(
        out,
        default_options={
            "y_coord_down": True,
            "extents": EXTENT,
            "on_invalid_geometry": None,
            "check_winding_order": False,
        },
    )
    return gzip.compress(raw, compresslevel=6, mtime=0)


def vector_tiles(
    layers: MapLayers,
    bbox: tuple[float, float, float, float],
    *,
    min_zoom: int = MIN_ZOOM,
    max_zoom: int = MAX_ZOOM,
    on_zoom: Callable[[int, int], None] | None = None,
) -> Iterator[Tile]:
    """Every non-empty tile of `bbox` from `min_zoom` to `max_zoom`."""
    prepared = []
    for name, features in layers.as_dict().items():
        if not features:
            continue
        world = _project([f.geometry for f in features])
        prepared.append(_Layer(name, features, world, STRtree(world)))
    for z in range(min_zoom, max_zoom + 1):
        x0, y0, x1, y1 = tile_range(bbox, z)
        if on_zoom is not None:
            on_zoom(z, (x1 - x0 + 1) * (y1 - y0 + 1))
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = _encode(prepared, z, x, y)
                if data is not None:
                    yield Tile(z, x, y, data)
