"""`emsync artefacts fit | evaluate`: the artefact window model and its honest evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FOREST = ARTIFACTS / "artefact-forest.json"

artefacts_app = typer.Typer(
    help="Monitor artefact detection: fit the window model, evaluate on PhysioNet series.",
    no_args_is_help=True,
)
console = Console(stderr=True)

DataDir = Annotated[
    Path, typer.Option("--data", help="PhysioNet 2012 folder (set-* and Outcomes-*.txt).")
]
Seed = Annotated[int, typer.Option("--seed")]


def _records(data: Path) -> tuple[object, ...]:
    from emsync.triage.physionet import PhysionetFormatError, load_physionet

    try:
        return load_physionet(data).records
    except (OSError, PhysionetFormatError) as error:
        console.print(f"[red]cannot read {data}: {error}")
        raise typer.Exit(2) from error


@artefacts_app.command("fit")
def fit(
    data: DataDir,
    out: Annotated[Path, typer.Option("--out", help="Forest JSON to write.")] = FOREST,
    seed: Seed = 0,
) -> None:
    """Fit the Isolation Forest on the development half of the records, never on the other."""
    from emsync.telemetry.artefact_eval import fit_forest, split_records

    dev, _ = split_records(_records(data))  # type: ignore[arg-type]
    forest = fit_forest(dev, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    forest.save(out)
    console.print(f"forest of {len(forest.trees)} trees, threshold {forest.threshold:.4f} -> {out}")


@artefacts_app.command("evaluate")
def evaluate(
    data: DataDir,
    json_out: Annotated[Path, typer.Option("--json", help="Write the report here.")],
    forest_path: Annotated[Path, typer.Option("--forest", help="Forest JSON.")] = FOREST,
    seed: Seed = 0,
) -> None:
    """Inject documented artefacts into the evaluation half and report detection and alarms."""
    from emsync.telemetry.anomaly import IsolationForestModel
    from emsync.telemetry.artefact_eval import evaluate as run
    from emsync.telemetry.artefact_eval import split_records

    _, test = split_records(_records(data))  # type: ignore[arg-type]
    forest = IsolationForestModel.load(forest_path)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("evaluating records", total=len(test))
        report = run(test, forest, seed=seed, progress=lambda: bar.advance(task))
    report["split"] = "evaluation half of the records by SHA-256 of the record id (odd first byte)"
    report["forest"] = {"threshold": forest.threshold, **forest.metadata}
    report["seed"] = seed
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    summary = {
        "rules_precision": report["detection"]["rules"]["precision"],
        "rules_recall": report["detection"]["rules"]["recall"],
        "combined_precision": report["detection"]["rules_or_forest"]["precision"],
        "combined_recall": report["detection"]["rules_or_forest"]["recall"],
        "alarms_removed": report["news2_alarms"]["removed"],
        "single_param_3_delayed": report["true_deteriorations"]["of_which_delayed"],
    }
    typer.echo(json.dumps(summary))
