"""`emsync registry ...`: fit the linkage model, measure matching quality, rebuild the index.

`match-eval` reads any CSV in the FEBRL layout (records `rec-N-org` and `rec-N-dup-K` are one
person) and scores the shipped model with the configured thresholds: precision, recall and F1
of the pairs it links, and the pairs it sends to a person.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from emsync.core.settings import Settings

registry_app = typer.Typer(
    help="Person registry: fit the linkage model, evaluate matching, rebuild the blind index.",
    no_args_is_help=True,
)
console = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    from emsync.core.settings import Settings, with_development_secrets

    return with_development_secrets(Settings())


def _read_febrl(path: Path) -> list[tuple[str, object]]:
    from emsync.registry.febrl import FebrlFormatError, parse

    try:
        return list(parse(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, FebrlFormatError) as exc:
        console.print(f"[red]error:[/red] {path}: {exc}")
        raise typer.Exit(2) from None


@registry_app.command("match-eval")
def match_eval(
    data: Annotated[list[Path], typer.Option("--data", help="CSV in the FEBRL layout (repeat)")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here")] = None,
    together: Annotated[
        bool, typer.Option("--together", help="Evaluate the files as one set (FEBRL 4a + 4b)")
    ] = False,
) -> None:
    """Precision, recall and F1 of linked pairs; pairs sent to review; false links."""
    from emsync.registry.evaluation import evaluate
    from emsync.registry.identity import Demographics
    from emsync.registry.linkage import MODEL_FILE, LinkageModel
    from emsync.registry.matching import Policy

    settings = _settings()
    reg = settings.registry
    policy = Policy(reg.auto_link_weight, reg.review_weight, reg.identifier_overrides_dob)
    model = LinkageModel.load()
    report: dict[str, object] = {
        "model": str(MODEL_FILE.name),
        "policy": {
            "auto_link_weight": policy.auto_link_weight,
            "review_weight": policy.review_weight,
            "identifier_overrides_dob": policy.identifier_overrides_dob,
        },
        "files": {},
    }
    table = Table("file", "records", "true pairs", "precision", "recall", "F1", "review", "false")
    sets = [(" + ".join(p.name for p in data), data)] if together else [(p.name, [p]) for p in data]
    for name, paths in sets:
        records = [
            (str(i), d) for p in paths for i, d in _read_febrl(p) if isinstance(d, Demographics)
        ]
        started = time.perf_counter()
        counts = evaluate(model, records, policy).as_dict()
        counts["records"] = len(records)
        counts["seconds"] = round(time.perf_counter() - started, 2)
        report["files"][name] = counts  # type: ignore[index]
        table.add_row(
            name,
            str(len(records)),
            str(counts["true_pairs"]),
            str(counts["precision"]),
            str(counts["recall"]),
            str(counts["f1"]),
            str(counts["true_pairs_sent_to_review"]),
            str(counts["false_links"]),
        )
    console.print(table)
    text = json.dumps(report, indent=2)
    if json_out is not None:
        json_out.write_text(text + "\n")
    print(json.dumps(report))


@registry_app.command("train")
def train(
    data: Annotated[list[Path], typer.Option("--data", help="FEBRL-layout CSV to fit on (repeat)")],
    out: Annotated[Path | None, typer.Option("--out", help="Model file (default: shipped)")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 1,
) -> None:
    """Fit the model without labels (u by random sampling, m by expectation maximisation)."""
    from emsync.registry import linkage
    from emsync.registry.identity import Demographics

    rows = [
        linkage.row(str(i), d)
        for path in data
        for i, d in _read_febrl(path)
        if isinstance(d, Demographics)
    ]
    model = linkage.train(linkage.frame(rows), seed=seed)
    target = out or linkage.MODEL_FILE
    target.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
    console.print(f"fitted on {len(rows)} records from {len(data)} file(s): [bold]{target}[/bold]")


@registry_app.command("reindex")
def reindex(batch: Annotated[int, typer.Option(min=10, max=10_000)] = 500) -> None:
    """Recompute every blind index entry from the sealed values (after changing
    `EMSYNC_REGISTRY__BLIND_INDEX_KEY_ID`); safe to run again."""
    settings = _settings()
    done = asyncio.run(_reindex(settings, batch))
    console.print(f"reindexed {done} person record(s)")


async def _reindex(settings: Settings, batch: int) -> int:
    from sqlalchemy import func, select

    from emsync.core.crypto import Keyring
    from emsync.core.db import create_engine, session_factory
    from emsync.registry.index import PersonIndex
    from emsync.registry.maintenance import reindex as run
    from emsync.registry.models import Person

    engine = create_engine(settings)
    sessions = session_factory(engine)
    index = PersonIndex.from_settings(settings, Keyring.from_settings(settings))
    try:
        async with sessions() as session:
            total = int(await session.scalar(select(func.count()).select_from(Person)) or 0)
        columns = (TextColumn("reindex"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("reindex", total=total)
            return await run(sessions, index, batch=batch, progress=lambda n: bar.advance(task, n))
    finally:
        await engine.dispose()
