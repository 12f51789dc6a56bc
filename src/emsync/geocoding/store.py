"""The gazetteer on disk: built from `.osm.pbf` at map import, cached as `.npz` (I/O).

The cache name carries the file's SHA-256, a hash of the code that builds the gazetteer and a
format version, so a new extract or a changed builder rebuilds. Plain numpy arrays, loaded with
`allow_pickle=False`; the same file serves SQLite and PostgreSQL deployments alike.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from emsync.core.errors import NotFound
from emsync.core.osm_order import in_reading_order
from emsync.geocoding import osm_reader, places, text
from emsync.geocoding.index import Geocoder
from emsync.geocoding.places import Gazetteer, build_gazetteer

__all__ = ["LoadedGeocoder", "load_geocoder"]

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class LoadedGeocoder:
    geocoder: Geocoder
    source: str
    from_cache: bool
    load_s: float


@functools.cache
def _builder_hash() -> str:
    digest = hashlib.sha256()
    for module in (osm_reader, places, text):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def _cache_path(cache_dir: Path, pbf_path: Path) -> Path:
    with pbf_path.open("rb") as handle:
        sha = hashlib.file_digest(handle, "sha256").hexdigest()
    return cache_dir / f"geocode-{sha[:20]}-{_builder_hash()}-v{FORMAT_VERSION}.npz"


def _save(path: Path, gazetteer: Gazetteer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **gazetteer.arrays())  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(path: Path) -> Gazetteer:
    with np.load(path, allow_pickle=False) as data:
        return Gazetteer(**{f.name: data[f.name] for f in fields(Gazetteer)})


def load_geocoder(pbf_path: Path, cache_dir: Path, *, rebuild: bool = False) -> LoadedGeocoder:
    """The geocoder of `pbf_path`, from `cache_dir` when there, else built and cached."""
    started = time.perf_counter()
    if not pbf_path.is_file():
        raise NotFound(f"map file {pbf_path} does not exist")
    cache_file = _cache_path(cache_dir, pbf_path)
    if cache_file.is_file() and not rebuild:
        try:
            gazetteer = _load(cache_file)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable or stale: rebuild below and overwrite it
        else:
            return LoadedGeocoder(
                Geocoder(gazetteer), str(pbf_path), True, time.perf_counter() - started
            )
    elements = osm_reader.read_map_elements(in_reading_order(pbf_path, cache_dir))
    gazetteer = build_gazetteer(
        elements.addresses, elements.streets, elements.named, elements.interpolations
    )
    _save(cache_file, gazetteer)
    prefix = cache_file.name.split("-")[1]
    for stale in cache_file.parent.glob(f"geocode-{prefix}-*.npz"):
        if stale != cache_file:
            stale.unlink(missing_ok=True)
    return LoadedGeocoder(Geocoder(gazetteer), str(pbf_path), False, time.perf_counter() - started)
