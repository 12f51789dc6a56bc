"""`emsync dispatch ...`: ETA calibration from recorded trips."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from emsync.core.db import create_engine, session_factory
from emsync.core.settings import Settings, with_development_secrets
from emsync.dispatch import trips
from emsync.dispatch.schemas import CalibrationRead

__all__ = ["dispatch_app"]

dispatch_app = typer.Typer(help="Dispatch: ETA calibration from recorded trips.")


async def _calibrate(settings: Settings, region: str | None) -> list[CalibrationRead]:
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session:
            return await trips.calibrate(session=session, region=region)
    finally:
        await engine.dispose()


@dispatch_app.command("calibrate")
def calibrate(
    region: Annotated[str | None, typer.Option(help="Only this region (map name)")] = None,
) -> None:
    """Fit per-road-class speed factors on completed trips; print the ETA error before/after.

    The running server applies factors with POST /api/dispatch/calibration?apply=true.
    """
    reports = asyncio.run(_calibrate(with_development_secrets(Settings()), region))
    if not reports:
        typer.echo("no completed trips to calibrate on", err=True)
        raise typer.Exit(1)
    for report in reports:
        typer.echo(json.dumps(report.model_dump(mode="json")))
