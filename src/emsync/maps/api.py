"""The road map's routes: what is loaded, its roads in a viewport, and isochrones. Each domain
serves its own map layer (units and incidents: dispatch; hospitals; shelters and resources:
emergency) under the same `/api/map` prefix."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import ValidationFailed
from emsync.core.runtime import RuntimeDep
from emsync.maps.imports import ImportJob, MapImports
from emsync.maps.roadmap import RoadMapService, region_of
from emsync.routing import LatLon, road_features

router = APIRouter(prefix="/api/map", tags=["map"])

MAX_BBOX_DEGREES = 2.0


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise ValidationFailed(
            "bbox must be four numbers: min lon,min lat,max lon,max lat"
        ) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise ValidationFailed("bbox must be finite numbers")
    if east - west > MAX_BBOX_DEGREES or north - south > MAX_BBOX_DEGREES:
        raise ValidationFailed(f"bbox may span at most {MAX_BBOX_DEGREES} degrees each way")
    return west, south, east, north


@router.get("")
async def map_info(
    runtime: RuntimeDep, _: Annotated[Principal, requires(Perm.MAP_READ)]
) -> dict[str, Any]:
    """The loaded road map: region, size, bounding box, hospitals found, speed factors."""
    road_map = await runtime.get(RoadMapService).get()
    s = road_map.summary
    return {
        "region": region_of(road_map),
        "source_file": Path(s.source).name,
        "sha256": s.sha256,
        "nodes": s.nodes,
        "edges": s.edges,
        "road_km": s.road_km,
        "hospitals_in_map": s.hospitals,
        "bbox": list(s.bbox),
        "profile": s.profile,
        "speed_factors": {c.label: f for c, f in road_map.engine.speed_factors.items()},
    }


@router.get("/roads")
async def map_roads(
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.MAP_READ)],
    bbox: Annotated[str, Query(max_length=120, description="min lon,min lat,max lon,max lat")],
    limit: Annotated[int, Query(ge=1, le=5000)] = 2000,
) -> dict[str, Any]:
    """Road segments in the viewport (GeoJSON), the most important first when capped."""
    engine = await runtime.get(RoadMapService).engine()
    return road_features(engine.graph, _bbox(bbox), limit=limit, weights_ms=engine.weights_ms)


@router.get("/isochrone")
async def map_isochrone(
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.MAP_READ)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    minutes: Annotated[float, Query(gt=0, le=60)] = 8.0,
) -> dict[str, Any]:
    """The area reachable by road within `minutes` (GeoJSON MultiPolygon)."""
    engine = await runtime.get(RoadMapService).engine()
    return engine.isochrone(LatLon(lat, lon), minutes)


class MapImportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(
        min_length=1, max_length=300, description="an .osm.pbf under EMSYNC_MAP_IMPORT_DIR"
    )


class MapImportFiles(BaseModel):
    enabled: bool
    files: list[str]


@router.get("/import-files", response_model=MapImportFiles)
async def map_import_files(
    runtime: RuntimeDep, _: Annotated[Principal, requires(Perm.MAP_IMPORT)]
) -> MapImportFiles:
    """The extracts in the map directory an admin may import."""
    imports = runtime.get(MapImports)
    return MapImportFiles(enabled=imports.directory is not None, files=imports.files())


@router.post("/imports", response_model=ImportJob, status_code=202)
async def start_map_import(
    body: MapImportCreate,
    runtime: RuntimeDep,
    principal: Annotated[Principal, requires(Perm.MAP_IMPORT)],
) -> ImportJob:
    """Compile the file and switch to it in the background; follow it at /imports/{id}."""
    return runtime.get(MapImports).start_import(body.file, actor=principal.audit_name)


@router.get("/imports", response_model=list[ImportJob])
async def list_map_imports(
    runtime: RuntimeDep, _: Annotated[Principal, requires(Perm.MAP_IMPORT)]
) -> list[ImportJob]:
    return runtime.get(MapImports).jobs()


@router.get("/imports/{job_id}", response_model=ImportJob)
async def map_import_progress(
    job_id: Annotated[str, PathParam(max_length=36)],
    runtime: RuntimeDep,
    _: Annotated[Principal, requires(Perm.MAP_IMPORT)],
) -> ImportJob:
    """The job's state, stage and step of steps."""
    return runtime.get(MapImports).job(job_id)
