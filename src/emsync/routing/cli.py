"""`emsync map ...`: import, inspect and download road maps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emsync.basemap.store import load_basemap
from emsync.core.errors import DomainError
from emsync.geocoding.cli import geocode_eval
from emsync.geocoding.store import load_geocoder
from emsync.routing.map_store import cached_maps, download_region, load_road_map

__all__ = ["map_app"]

map_app = typer.Typer(help="Road maps: import an .osm.pbf, show compiled maps, download a region.")
_console = Console(stderr=True, soft_wrap=True)

CacheDir = Annotated[Path, typer.Option("--cache-dir", help="Where compiled maps are cached.")]


def _fail(error: DomainError) -> typer.Exit:
    _console.print(f"[red]error:[/red] {error.detail}")
    return typer.Exit(code=1)


@map_app.command("import")
def import_map(
    file: Annotated[Path, typer.Argument(help="An .osm.pbf extract.")],
    cache_dir: CacheDir = Path("var/cache"),
    rebuild: Annotated[bool, typer.Option(help="Rebuild even when cached.")] = False,
) -> None:
    """Build the road graph and hierarchy of FILE, cache them, and print a summary."""
    try:
        road_map = load_road_map(file, cache_dir, show_progress=True, rebuild=rebuild)
    except DomainError as error:
        raise _fail(error) from error
    except OSError as error:  # e.g. an unwritable cache directory
        _console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from error
    try:
        # The address index is built and cached with the road graph, from the same file.
        geocoder = load_geocoder(file, cache_dir, rebuild=rebuild)
        # And the basemap's vector tiles (street names, water, parks, buildings).
        basemap = load_basemap(file, cache_dir, rebuild=rebuild)
    except DomainError as error:
        raise _fail(error) from error
    except OSError as error:
        _console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=1) from error
    summary = road_map.summary.as_dict()
    summary["from_cache"] = road_map.from_cache
    summary["load_s"] = round(road_map.load_s, 3)
    summary["geocoder_entries"] = geocoder.geocoder.g.size
    summary["geocoder_load_s"] = round(geocoder.load_s, 3)
    summary["basemap_file"] = str(basemap.path)
    summary["basemap_load_s"] = round(basemap.load_s, 3)
    typer.echo(json.dumps(summary, indent=2))


@map_app.command("info")
def info(cache_dir: CacheDir = Path("var/cache")) -> None:
    """List the compiled maps in the cache."""
    maps = cached_maps(cache_dir)
    if not maps:
        _console.print(f"no compiled maps in {cache_dir}; run `emsync map import FILE`")
        raise typer.Exit(code=1)
    for summary in maps:
        typer.echo(json.dumps(summary.as_dict()))


@map_app.command("download")
def download(
    region: Annotated[str, typer.Argument(help="A region in pyrosm's index, e.g. 'finland'.")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to save the file.")] = Path(
        "var/maps"
    ),
) -> None:
    """Download REGION's extract (Geofabrik / BBBike, through pyrosm) and print its path."""
    try:
        path = download_region(region, directory)
    except DomainError as error:
        raise _fail(error) from error
    typer.echo(str(path))
    _console.print(f"now run: emsync map import {path}")


map_app.command("geocode-eval")(geocode_eval)
