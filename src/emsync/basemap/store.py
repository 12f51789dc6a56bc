"""The basemap archive on disk: vector tiles in one PMTiles file, built from the extract (I/O).

Built at `emsync map import` (or on first use) and cached beside the road map as
`basemap-<sha>-<code>-v1.pmtiles`; the dashboard reads it with HTTP range requests, so no tile
server or CDN is involved at run time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from emsync.core.errors import NotFound, ValidationFailed
from emsync.core.osm_order import in_reading_order

if TYPE_CHECKING:
    from emsync.basemap.osm_layers import MapLayers

# The builder's modules (shapely, mapbox-vector-tile: ~0.3 s of CPU to import) are imported
# when an archive is built; a cached archive is found by their source files' hash alone.
BUILDER_MODULES = ("emsync.basemap.osm_layers", "emsync.basemap.tiles")

__all__ = ["Basemap", "load_basemap"]

FORMAT_VERSION = 1
LAYERS = ("water", "green", "buildings", "roads", "places")


@dataclass(frozen=True, slots=True)
class Basemap:
    path: Path
    tiles: int
    bbox: tuple[float, float, float, float]
    from_cache: bool
    load_s: float


@functools.cache
def _builder_hash() -> str:
    digest = hashlib.sha256()
    for module in BUILDER_MODULES:
        spec = importlib.util.find_spec(module)
        assert spec is not None, module
        assert spec.origin is not None, module
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(cache_dir: Path, pbf_path: Path) -> Path:
    with pbf_path.open("rb") as handle:
        sha = hashlib.file_digest(handle, "sha256").hexdigest()
    return cache_dir / f"basemap-{sha[:20]}-{_builder_hash()}-v{FORMAT_VERSION}.pmtiles"


def _bbox(layers: MapLayers) -> tuple[float, float, float, float]:
    bounds = [f.geometry.bounds for f in layers.roads] or [
        f.geometry.bounds for group in layers.as_dict().values() for f in group
    ]
    if not bounds:
        raise ValidationFailed("the map has nothing to draw")
    b = np.asarray(bounds)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _write(path: Path, layers: MapLayers) -> tuple[int, tuple[float, float, float, float]]:
    from emsync.basemap.tiles import MAX_ZOOM, MIN_ZOOM, vector_tiles

    bbox = _bbox(layers)
    built = sorted(vector_tiles(layers, bbox), key=lambda t: zxy_to_tileid(t.z, t.x, t.y))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".pmtiles.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = Writer(handle)  # type: ignore[no-untyped-call]
            for tile in built:
                writer.write_tile(zxy_to_tileid(tile.z, tile.x, tile.y), tile.data)  # type: ignore[no-untyped-call]
            west, south, east, north = bbox
            writer.finalize(  # type: ignore[no-untyped-call]
                {
                    "tile_type": TileType.MVT,
                    "tile_compression": Compression.GZIP,
                    "min_zoom": MIN_ZOOM,
                    "max_zoom": MAX_ZOOM,
                    "min_lon_e7": int(west * 1e7),
                    "min_lat_e7": int(south * 1e7),
                    "max_lon_e7": int(east * 1e7),
                    "max_lat_e7": int(north * 1e7),
                    "center_zoom": 14,
                    "center_lon_e7": int((west + east) / 2 * 1e7),
                    "center_lat_e7": int((south + north) / 2 * 1e7),
                },
                {
                    "attribution": "© OpenStreetMap contributors",
                    "vector_layers": [{"id": name, "fields": {}} for name in LAYERS],
                },
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(built), bbox


def load_basemap(pbf_path: Path, cache_dir: Path, *, rebuild: bool = False) -> Basemap:
    """The basemap archive of `pbf_path`, from `cache_dir` when built before."""
    started = time.perf_counter()
    if not pbf_path.is_file():
        raise NotFound(f"map file {pbf_path} does not exist")
    path = _cache_path(cache_dir, pbf_path)
    if path.is_file() and not rebuild:
        return Basemap(path, -1, (0.0, 0.0, 0.0, 0.0), True, time.perf_counter() - started)
    from emsync.basemap.osm_layers import read_map_layers

    count, bbox = _write(path, read_map_layers(in_reading_order(pbf_path, cache_dir)))
    prefix = path.name.split("-")[1]
    for stale in path.parent.glob(f"basemap-{prefix}-*.pmtiles"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return Basemap(path, count, bbox, False, time.perf_counter() - started)
