"""`emsync map geocode-eval`: how well typed addresses are found on a map, and how fast."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emsync.core.errors import DomainError
from emsync.geocoding.evaluation import evaluate, make_cases, substring_baseline
from emsync.geocoding.store import load_geocoder

__all__ = ["evaluate_map", "geocode_eval"]

_console = Console(stderr=True, soft_wrap=True)


def evaluate_map(
    pbf: Path, cache_dir: Path, *, per_kind: int, seed: int, keystrokes: bool
) -> dict[str, object]:
    """Top-1/top-5 accuracy and latency of the geocoder and of a substring-search baseline."""
    loaded = load_geocoder(pbf, cache_dir)
    geocoder = loaded.geocoder
    cases = make_cases(geocoder, per_kind=per_kind, seed=seed)
    ours = evaluate(cases, lambda q, p: geocoder.search(q, partial=p), keystrokes=keystrokes)
    baseline = evaluate(cases, substring_baseline(geocoder), keystrokes=False)
    return {
        "map": pbf.name,
        "entries": geocoder.g.size,
        "streets": int((geocoder.g.kind == 1).sum()),
        "addresses": int((geocoder.g.kind == 0).sum()),
        "crossings": int(geocoder.g.cross_a.shape[0]),
        "interpolation_segments": int(geocoder.g.interp_street.shape[0]),
        "build_or_load_s": round(loaded.load_s, 3),
        "from_cache": loaded.from_cache,
        "seed": seed,
        "geocoder": ours,
        "baseline_substring": baseline,
    }


def geocode_eval(
    map_file: Annotated[Path, typer.Option("--map", help="An .osm.pbf extract.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
    per_kind: Annotated[int, typer.Option(help="Queries sampled per kind.")] = 200,
    seed: Annotated[int, typer.Option(help="Sampling and corruption seed.")] = 42,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Where the gazetteer is cached.")
    ] = None,
) -> None:
    """Sample addresses, streets and crossings from the map, corrupt them (typos, missing house
    number, abbreviations, unfinished words), and report top-1/top-5 accuracy and the latency
    of every keystroke's query, beside a substring-search baseline."""
    try:
        if cache_dir is None:
            with tempfile.TemporaryDirectory() as tmp:
                report = evaluate_map(
                    map_file, Path(tmp), per_kind=per_kind, seed=seed, keystrokes=True
                )
        else:
            report = evaluate_map(
                map_file, cache_dir, per_kind=per_kind, seed=seed, keystrokes=True
            )
    except DomainError as error:
        _console.print(f"[red]error:[/red] {error.detail}")
        raise typer.Exit(code=1) from error
    text = json.dumps(report)
    typer.echo(text)
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2) + "\n")
