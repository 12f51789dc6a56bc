"""Importing a new road map from the dashboard: a background job with progress.

An admin names an `.osm.pbf` file under the configured map directory (EMSYNC_MAP_IMPORT_DIR);
the job compiles the road graph, then each further stage the composition root adds (the address
index, the basemap tiles), in worker threads, and switches this process to the new map when all
of them succeeded. A failed stage leaves the loaded map in place. The compiled files are cached,
so pointing EMSYNC_MAP_PBF at the same file makes the switch survive a restart at no cost, and
is how the ingest and worker processes of the scale profile follow (they load at start).

Jobs are kept in memory: they describe work this process is doing, and the audit log keeps the
record of who imported what (the request, and the job's outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import structlog

from emsync.core.clock import Clock
from emsync.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.maps.roadmap import RoadMapService

__all__ = ["ImportJob", "ImportStage", "MapImports", "confined_map_file"]

log = structlog.get_logger("emsync.maps")

JobState = Literal["running", "done", "failed"]
# A further stage after the road graph: its label and what it does with the file.
ImportStage = tuple[str, Callable[[Path], Awaitable[None]]]
# Told when a job ends, before its state says so (the composition root audits it): the job
# (`error` None when it succeeded) and who started it.
OnFinished = Callable[["ImportJob", str], Awaitable[None]]
# load_road_map's own stages (routing.map_store), counted so the bar moves through them.
ROAD_GRAPH_STEPS = 5
MAP_SUFFIXES = (".osm.pbf", ".pbf")


@dataclass(slots=True)
class ImportJob:
    id: str
    file: str
    started_at: datetime
    steps: int
    state: JobState = "running"
    step: int = 0
    stage: str = "queued"
    finished_at: datetime | None = None
    error: str | None = None
    summary: dict[str, int | float | bool] = field(default_factory=dict)


def _bad_file(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": "file", "message": message}])


def confined_map_file(name: str, directory: Path | None) -> Path:
    """`name` resolved under `directory`, refused when it leaves it (`..`, an absolute path, a
    symlink out), is not an `.osm.pbf`, or is not a file: an admin account must not be a way to
    make the server read arbitrary files."""
    if directory is None:
        raise _bad_file("importing maps from the dashboard is off (set EMSYNC_MAP_IMPORT_DIR)")
    if not name.lower().endswith(MAP_SUFFIXES):
        raise _bad_file("the map file must be an .osm.pbf extract")
    try:
        base = directory.resolve()
        resolved = (base / name).resolve()
    except (OSError, RuntimeError) as error:
        raise _bad_file(f"cannot resolve {name}: {error}") from error
    if not resolved.is_relative_to(base):
        raise _bad_file(f"{name} is outside the map directory")
    if not resolved.is_file():
        raise NotFound(f"there is no map file {name} in the map directory")
    return resolved


class MapImports:
    """One import at a time (a build takes the machine's CPU and memory for a while)."""

    name = "map-imports"

    def __init__(
        self,
        *,
        directory: Path | None,
        road_maps: RoadMapService,
        clock: Clock,
        stages: Sequence[ImportStage] = (),
        on_finished: OnFinished | None = None,
        keep: int = 20,
    ) -> None:
        self.directory = directory
        self._road_maps = road_maps
        self._clock = clock
        self._stages = list(stages)
        self._on_finished = on_finished
        self._keep = keep
        self._jobs: dict[str, ImportJob] = {}
        self._task: asyncio.Task[None] | None = None

    def add_stage(self, stage: ImportStage) -> None:
        self._stages.append(stage)

    def files(self) -> list[str]:
        """The extracts an admin may import (names relative to the map directory)."""
        if self.directory is None or not self.directory.is_dir():
            return []
        base = self.directory.resolve()
        found = [
            p.relative_to(base).as_posix()
            for p in base.rglob("*.pbf")
            if p.is_file() and p.resolve().is_relative_to(base)
        ]
        return sorted(found)

    def jobs(self) -> list[ImportJob]:
        return sorted(self._jobs.values(), key=lambda j: j.started_at, reverse=True)

    def job(self, job_id: str) -> ImportJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"map import {job_id} does not exist")
        return job

    def start_import(self, name: str, *, actor: str) -> ImportJob:
        path = confined_map_file(name, self.directory)
        if self._task is not None and not self._task.done():
            raise Conflict("a map import is already running; wait for it to finish")
        job = ImportJob(
            id=new_id(),
            file=name,
            started_at=self._clock(),
            steps=ROAD_GRAPH_STEPS + len(self._stages) + 1,
        )
        self._jobs[job.id] = job
        for old in self.jobs()[self._keep :]:
            del self._jobs[old.id]
        self._task = asyncio.create_task(self._run(job, path, actor), name="map-import")
        return job

    async def _run(self, job: ImportJob, path: Path, actor: str) -> None:
        def on_stage(description: str) -> None:
            # Called from the build thread: plain attribute writes, read by the progress route.
            job.step += 1
            job.stage = description

        done = False
        try:
            job.stage = f"reading {path.name}"
            road_map = await self._road_maps.build(path, on_stage=on_stage)
            job.step = ROAD_GRAPH_STEPS
            for label, run in self._stages:
                job.stage = label
                await run(path)
                job.step += 1
            job.stage = "switching to the new map"
            await self._road_maps.switch(road_map, path)
            job.summary = {
                "nodes": road_map.summary.nodes,
                "edges": road_map.summary.edges,
                "road_km": road_map.summary.road_km,
                "hospitals_in_map": road_map.summary.hospitals,
                "from_cache": road_map.from_cache,
            }
            job.step, job.stage, done = job.steps, "done", True
        except DomainError as error:
            job.error = error.detail
        except Exception as error:  # any build failure is the job's, shown to the admin
            log.exception("map import failed", file=job.file)
            job.error = f"{type(error).__name__}: {error}"
        job.finished_at = self._clock()
        log.info("map import finished", file=job.file, done=done, error=job.error)
        try:
            if self._on_finished is not None:
                await self._on_finished(job, actor)
        finally:
            # Last: whoever waits for the job sees it end with its audit entry written.
            job.state = "done" if done else "failed"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            # The build thread cannot be interrupted; the switch must not happen mid-shutdown.
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None
