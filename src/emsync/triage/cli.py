"""`emsync triage ...` and `emsync risk ...`: train, cross-validate and evaluate the models.

`evaluate` scores the shipped model on any file in the original formats (held-out data); with
`--cv` it cross-validates the whole training procedure on that data instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from emsync.triage.features import Mode
from emsync.triage.ktas import KtasData, KtasFormatError, LabelledVisit, load_ktas

if TYPE_CHECKING:
    from emsync.triage import deterioration as det
    from emsync.triage.physionet import PhysionetData

# = emsync.triage.registry.ARTIFACTS (tests/unit/test_cli_imports.py checks it), not imported from
# there: the registry imports the models, hence xgboost and scikit-learn, for every `--help`.
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

triage_app = typer.Typer(help="Acuity model (KTAS 1-5): train and evaluate.", no_args_is_help=True)
risk_app = typer.Typer(help="Deterioration model (PhysioNet 2012 layout).", no_args_is_help=True)
console = Console(stderr=True)

DataFile = Annotated[Path, typer.Option("--data", help="KTAS file in the published format.")]
DataDir = Annotated[
    Path, typer.Option("--data", help="Folder with set-* (folder or .tar.gz) and Outcomes-*.txt.")
]
OutDir = Annotated[Path, typer.Option("--out", help="Where models, metrics, plots and card go.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Write the full report as JSON here.")]
PlotOut = Annotated[Path | None, typer.Option("--plot", help="Write the plot (PNG) here.")]
Folds = Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds.")]
Seed = Annotated[int, typer.Option("--seed")]
UseCv = Annotated[
    bool, typer.Option("--cv", help="Cross-validate the training procedure on this data.")
]
VariantsOpt = Annotated[
    str,
    typer.Option(
        "--variants",
        help="Acuity variants the training procedure chooses among, comma-separated, or 'all' "
        "(softmax, ordinal, softmax+text, ordinal+text). The shipped procedure is softmax.",
    ),
]


def _variants(text: str) -> tuple[str, ...]:
    from emsync.triage.acuity import VARIANTS

    chosen = VARIANTS if text == "all" else tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or not chosen:
        raise typer.BadParameter(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    return chosen


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Any]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.name.encode())
            digest.update(item.read_bytes())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _load_ktas(path: Path) -> KtasData:
    try:
        return load_ktas(path)
    except (OSError, KtasFormatError) as error:
        console.print(f"[red]cannot read {path}: {error}")
        raise typer.Exit(2) from error


def _load_physionet(path: Path) -> PhysionetData:
    from emsync.triage.physionet import PhysionetFormatError, load_physionet

    try:
        with _progress("reading records", None) as tick:
            return load_physionet(path, progress=tick)
    except (OSError, PhysionetFormatError) as error:
        console.print(f"[red]cannot read {path}: {error}")
        raise typer.Exit(2) from error


def _triage_table(title: str, reports: dict[str, dict[str, Any]]) -> None:
    table = Table(title=title)
    columns = ("", "n", "accuracy", "QW kappa", "under", "over", "KTAS1 sens", "KTAS2 sens", "ALS")
    for column in columns:
        table.add_column(column)
    for name, m in reports.items():
        sens = m.get("sensitivity_by_level", {})
        table.add_row(
            name,
            str(m["n"]),
            f"{m['accuracy']:.3f}",
            f"{m['quadratic_weighted_kappa']:.3f}",
            f"{m['under_triage_rate']:.3f}",
            f"{m['over_triage_rate']:.3f}",
            f"{sens.get('1') or 0:.3f}",
            f"{sens.get('2') or 0:.3f}",
            f"{m.get('als_sensitivity') or 0:.3f}",
        )
    console.print(table)


def _variant_rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = {"selected (safety rule)": report["metrics"]}
    for name, r in report.get("variants", {}).items():
        rows[f"{name} (safety rule)"] = r["metrics"]
        rows[f"{name} (most likely)"] = r["metrics_most_likely_level"]
    return rows


def _rows_for(data: KtasData, mode: Mode) -> list[LabelledVisit]:
    rows = list(data.rows)
    if mode is Mode.REVIEW:
        rows = [r for r in rows if r.nurse_level is not None]
    return rows


def _cv_acuity(
    data: KtasData, mode: Mode, folds: int, seed: int, variants: tuple[str, ...] | None = None
) -> dict[str, Any]:
    from emsync.triage import acuity as acuity_mod

    rows = _rows_for(data, mode)
    chosen = variants or acuity_mod.DEFAULT_VARIANTS
    with _progress(f"cross-validating {mode.value} mode", folds * 6 * len(chosen)) as tick:
        cv = acuity_mod.cross_validate_acuity(
            rows, mode=mode, folds=folds, seed=seed, variants=chosen, progress=tick
        )
    report = acuity_mod.acuity_report(cv.truth, cv.probabilities, cv.safety_levels)
    report["fold_under_triage_costs"] = list(cv.fold_costs)
    report["fold_variants"] = list(cv.fold_variants)
    report["variants"] = {
        name: acuity_mod.acuity_report(cv.truth, p, levels)
        for name, (p, levels) in cv.by_variant.items()
    }
    report["evaluation"] = (
        f"stratified {folds}-fold cross-validation, seed {seed}, nested calibration and choice "
        f"of variant among {list(chosen)} (inner 5-fold on each training fold)"
    )
    return report


def _nurse_baseline(data: KtasData) -> dict[str, Any]:
    from emsync.triage.evaluation import triage_metrics

    rows = [r for r in data.rows if r.nurse_level is not None]
    return triage_metrics([r.expert_level for r in rows], [r.nurse_level or 0 for r in rows])


@triage_app.command("train")
def triage_train(
    data: DataFile,
    out: OutDir = ARTIFACTS,
    folds: Folds = 5,
    seed: Seed = 0,
    variants: VariantsOpt = "softmax",
) -> None:
    """Cross-validate both modes, then fit and save the models, metrics, plots and model card."""
    from emsync.triage import acuity as acuity_mod
    from emsync.triage.cards import acuity_card
    from emsync.triage.evaluation import plot_triage

    loaded = _load_ktas(data)
    sha = _sha256(data)
    chosen = _variants(variants)
    cv: dict[str, Any] = {"data": {**loaded.report.as_dict(), "sha256": sha}}
    for mode in Mode:
        cv[mode.value] = _cv_acuity(loaded, mode, folds, seed, chosen)
        plot_triage(
            cv[mode.value],
            out / f"acuity-{mode.value}.png",
            title=f"acuity, {mode.value} mode: {folds}-fold CV on {data.name}",
        )
    cv["nurse_baseline"] = _nurse_baseline(loaded)
    meta: dict[str, dict[str, Any]] = {}
    for mode in Mode:
        with _progress(f"fitting {mode.value} model", 6) as tick:
            model = acuity_mod.fit_acuity(
                _rows_for(loaded, mode), mode=mode, seed=seed, variants=chosen, progress=tick
            )
        acuity_mod.stamp_version(model, data_sha256=sha)
        model.metadata["cross_validated"] = {
            k: cv[mode.value]["metrics"][k]
            for k in ("accuracy", "macro_f1", "quadratic_weighted_kappa", "under_triage_rate")
        }
        model.save(out, f"acuity-{mode.value}")
        meta[mode.value] = model.metadata
    _write_json(out / "acuity-metrics.json", cv)
    (out / "acuity-model-card.md").write_text(
        acuity_card(cv, meta, {**loaded.report.as_dict(), "sha256": sha})
    )
    _triage_table(
        f"{folds}-fold cross-validation on {data.name}",
        {
            "field (safety rule)": cv["field"]["metrics"],
            "field (most likely)": cv["field"]["metrics_most_likely_level"],
            "review (safety rule)": cv["review"]["metrics"],
            "review (most likely)": cv["review"]["metrics_most_likely_level"],
            "nurses": cv["nurse_baseline"],
        },
    )
    console.print(f"models, metrics, plots and model card written to {out}")


@triage_app.command("evaluate")
def triage_evaluate(
    data: DataFile,
    mode: Annotated[Mode, typer.Option("--mode")] = Mode.FIELD,
    json_out: JsonOut = None,
    plot: PlotOut = None,
    cv: UseCv = False,
    folds: Folds = 5,
    seed: Seed = 0,
    models: Annotated[Path, typer.Option("--models", help="Folder of saved models.")] = ARTIFACTS,
    variants: VariantsOpt = "softmax",
) -> None:
    """Score the saved model on a KTAS file (or cross-validate on it with --cv)."""
    import numpy as np

    from emsync.triage import acuity as acuity_mod
    from emsync.triage.evaluation import plot_triage
    from emsync.triage.registry import acuity_path

    loaded = _load_ktas(data)
    rows = _rows_for(loaded, mode)
    if not rows:
        console.print("[red]no rows with the nurse's level (KTAS_RN) for review mode")
        raise typer.Exit(2)
    if cv:
        report = _cv_acuity(loaded, mode, folds, seed, _variants(variants))
        report["model_version"] = "cross-validated training procedure"
        _triage_table(f"{mode.value} mode, each variant on the same folds", _variant_rows(report))
    else:
        model = acuity_mod.AcuityModel.load(acuity_path(mode, models))
        probabilities, levels = model.predict_rows(rows)
        truth = np.array([r.expert_level for r in rows], dtype=np.int64)
        report = acuity_mod.acuity_report(truth, probabilities, levels)
        report["model_version"] = model.version
        report["in_sample"] = model.metadata.get("data_sha256") == _sha256(data)
        report["evaluation"] = "saved model on the given rows"
        if report["in_sample"]:
            console.print(
                "[yellow]this file is the model's training data: these figures are in-sample; "
                "use --cv (or the model card) for figures on unseen patients"
            )
    report["mode"] = mode.value
    report["data"] = loaded.report.as_dict()
    _triage_table(
        f"{mode.value} mode on {data.name} ({report['evaluation']})",
        {
            "safety rule": report["metrics"],
            "most likely level": report["metrics_most_likely_level"],
        },
    )
    if json_out:
        _write_json(json_out, report)
    if plot:
        plot_triage(report, plot, title=f"acuity, {mode.value} mode on {data.name}")
    typer.echo(
        json.dumps(
            {
                "mode": mode.value,
                **{k: report["metrics"][k] for k in ("n", "accuracy", "under_triage_rate")},
            }
        )
    )


@triage_app.command("card")
def triage_card(
    out: OutDir = ARTIFACTS,
    learning: Annotated[
        list[Path] | None, typer.Option("--learning", help="learning-curve JSON (per mode).")
    ] = None,
    before: Annotated[
        list[Path] | None, typer.Option("--before", help="evaluate --cv JSON of the old model.")
    ] = None,
    compare: Annotated[
        list[Path] | None,
        typer.Option("--compare", help="evaluate --cv --variants all JSON (per mode)."),
    ] = None,
) -> None:
    """Re-render the acuity model card from the saved metrics and models (no training)."""
    from emsync.triage.cards import acuity_card

    cv = json.loads((out / "acuity-metrics.json").read_text())
    meta = {m.value: json.loads((out / f"acuity-{m.value}.json").read_text()) for m in Mode}
    curves = {}
    for path in learning or []:
        curve = json.loads(path.read_text())
        curves[curve["mode"]] = curve
    old = {}
    for path in before or []:
        report = json.loads(path.read_text())
        old[report["mode"]] = report["metrics"]
    comparison = {}
    for path in compare or []:
        report = json.loads(path.read_text())
        comparison[report["mode"]] = report
    card = acuity_card(cv, meta, cv["data"], before=old, curves=curves, comparison=comparison)
    (out / "acuity-model-card.md").write_text(card)
    console.print(f"model card written to {out / 'acuity-model-card.md'}")


@triage_app.command("learning-curve")
def triage_learning_curve(
    data: DataFile,
    mode: Annotated[Mode, typer.Option("--mode")] = Mode.FIELD,
    json_out: JsonOut = None,
    plot: PlotOut = None,
    folds: Folds = 5,
    seed: Seed = 0,
    variant: Annotated[str, typer.Option("--variant", help="One of the acuity variants.")] = (
        "softmax"
    ),
) -> None:
    """Outer-fold accuracy when training on 20-100% of each training fold (same test folds)."""
    from emsync.triage import learning

    loaded = _load_ktas(data)
    rows = _rows_for(loaded, mode)
    fractions = learning.FRACTIONS
    with _progress(f"learning curve, {mode.value} mode", folds * len(fractions) * 6) as tick:
        curve = learning.learning_curve(
            rows, mode=mode, folds=folds, seed=seed, variant=variant, progress=tick
        )
    curve["data"] = loaded.report.as_dict()
    table = Table(title=f"learning curve, {mode.value} mode, {variant} ({folds}-fold outer CV)")
    for column in ("training rows", "accuracy (safety)", "under-triage", "accuracy (most likely)"):
        table.add_column(column)
    for point in curve["points"]:
        table.add_row(
            str(point["training_rows"]),
            f"{point['accuracy']:.3f}",
            f"{point['under_triage_rate']:.3f}",
            f"{point['accuracy_most_likely']:.3f}",
        )
    console.print(table)
    console.print(curve["extrapolation"]["verdict"])
    if json_out:
        _write_json(json_out, curve)
    if plot:
        learning.plot_learning_curve(curve, plot)


def _risk_cv(
    data: PhysionetData, folds: int, seed: int, *, baseline: bool = False
) -> tuple[dict[str, Any], dict[float, det.WindowScores]]:
    from emsync.triage import deterioration as det

    with _progress("cross-validating deterioration model", folds * 6) as tick:
        scores = det.cross_validate_deterioration(
            data.records, folds=folds, seed=seed, progress=tick
        )
    report: dict[str, Any] = {
        "windows": [det.deterioration_report(s) for s in scores.values()],
        "feature_set": det.FEATURE_SET,
        "evaluation": f"stratified {folds}-fold cross-validation by patient, seed {seed}",
    }
    if baseline:
        # The previous feature set on the same folds, windows and patients: the before figures.
        with _progress("cross-validating feature set 1 (before)", folds * 6) as tick:
            before = det.cross_validate_deterioration(
                data.records, folds=folds, seed=seed, feature_set=1, progress=tick
            )
        report["feature_set_1"] = [det.deterioration_report(s) for s in before.values()]
    return report, scores


def _risk_table(title: str, windows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for column in ("window", "score", "n", "AUROC", "AUPRC", "Brier", "ECE"):
        table.add_column(column)
    for w in windows:
        for name in ("model", "news2_max", "news2_mean", "news2_last", "saps_i"):
            m = w.get(name)
            if m:
                cal = w["calibration"] if name == "model" else None
                table.add_row(
                    f"{w['window_hours']:g} h",
                    name,
                    str(m["n"]),
                    f"{m['auroc']:.3f}",
                    f"{m['auprc']:.3f}",
                    f"{cal['brier']:.3f}" if cal else "",
                    f"{cal['expected_calibration_error']:.3f}" if cal else "",
                )
    console.print(table)


def _risk_plot(
    scores: det.WindowScores, calibration: dict[str, Any], out: Path, title: str
) -> None:
    import numpy as np

    from emsync.triage.evaluation import plot_risk

    curves = {
        "model": (scores.outcome, scores.model),
        "NEWS2 mean": (scores.outcome, scores.news2_mean),
        "NEWS2 last": (scores.outcome, scores.news2_last),
    }
    has_saps = ~np.isnan(scores.saps_i)
    if has_saps.sum() > 1 and len(set(scores.outcome[has_saps].tolist())) == 2:
        curves["SAPS-I"] = (scores.outcome[has_saps], scores.saps_i[has_saps])
    plot_risk(curves, calibration, out, title=title)


@risk_app.command("train")
def risk_train(
    data: DataDir,
    out: OutDir = ARTIFACTS,
    folds: Folds = 5,
    seed: Seed = 0,
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Reuse this `risk evaluate --cv` JSON (same data and seed) instead of "
            "cross-validating again; the plot is then not redrawn.",
        ),
    ] = None,
) -> None:
    """Cross-validate, then fit and save the deterioration model, metrics, plot and model card."""
    from emsync.triage import deterioration as det
    from emsync.triage.cards import deterioration_card

    loaded = _load_physionet(data)
    sha = _sha256(data)
    if report_file is not None:
        report = json.loads(report_file.read_text())
        if report.get("data", {}).get("records_kept") != loaded.report.records_kept:
            console.print(f"[red]{report_file} was not computed on these records")
            raise typer.Exit(2)
    else:
        report, scores = _risk_cv(loaded, folds, seed)
        last = max(scores)
        _risk_plot(
            scores[last],
            report["windows"][-1]["calibration"],
            out / "deterioration.png",
            f"deterioration: {folds}-fold CV, {last:g} h window",
        )
    report["data"] = {**loaded.report.as_dict(), "sha256": sha}
    with _progress("fitting deterioration model", 6) as tick:
        model = det.fit_deterioration(loaded.records, seed=seed, progress=tick)
    det.stamp_version(model, data_sha256=sha)
    model.metadata["cross_validated_auroc"] = {
        f"{w['window_hours']:g}h": w["model"]["auroc"] for w in report["windows"]
    }
    model.save(out, "deterioration")
    _write_json(out / "deterioration-metrics.json", report)
    (out / "deterioration-model-card.md").write_text(
        deterioration_card(report, model.metadata, report["data"])
    )
    _risk_table(f"{folds}-fold cross-validation on {data}", report["windows"])
    console.print(f"model, metrics, plot and model card written to {out}")


@risk_app.command("evaluate")
def risk_evaluate(
    data: DataDir,
    json_out: JsonOut = None,
    plot: PlotOut = None,
    cv: UseCv = False,
    folds: Folds = 5,
    seed: Seed = 0,
    models: Annotated[Path, typer.Option("--models", help="Folder of saved models.")] = ARTIFACTS,
    baseline: Annotated[
        bool, typer.Option("--baseline", help="With --cv: also feature set 1 on the same folds.")
    ] = False,
) -> None:
    """Score the saved model on PhysioNet-2012-layout records (or cross-validate with --cv)."""
    from emsync.triage import deterioration as det
    from emsync.triage.registry import deterioration_path

    loaded = _load_physionet(data)
    if len({r.outcome.in_hospital_death for r in loaded.records}) < 2:
        console.print("[red]the records need both outcomes (deaths and survivors) for AUROC")
        raise typer.Exit(2)
    if cv:
        report, scores = _risk_cv(loaded, folds, seed, baseline=baseline)
        report["model_version"] = "cross-validated training procedure"
        if baseline:
            _risk_table("feature set 1 (before), same folds", report["feature_set_1"])
    else:
        model = det.DeteriorationModel.load(deterioration_path(models))
        scores = {
            h: det.score_windows(loaded.records, model.probability, h, model.feature_set)
            for h in det.EVALUATION_WINDOWS_HOURS
        }
        report = {
            "windows": [det.deterioration_report(s) for s in scores.values()],
            "evaluation": "saved model on the given records",
            "model_version": model.version,
            "in_sample": model.metadata.get("data_sha256") == _sha256(data),
        }
        if report["in_sample"]:
            console.print(
                "[yellow]these records are the model's training data: figures are in-sample; "
                "use --cv"
            )
    report["data"] = loaded.report.as_dict()
    _risk_table(f"deterioration on {data} ({report['evaluation']})", report["windows"])
    if json_out:
        _write_json(json_out, report)
    if plot:
        last = max(scores)
        _risk_plot(
            scores[last],
            report["windows"][-1]["calibration"],
            plot,
            f"deterioration on {data.name}, {last:g} h window",
        )
    typer.echo(
        json.dumps({w["window_hours"]: round(w["model"]["auroc"], 4) for w in report["windows"]})
    )
