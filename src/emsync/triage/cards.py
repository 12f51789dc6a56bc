"""Model cards (markdown) written next to the shipped models by the training commands."""

from __future__ import annotations

from typing import Any


def _fmt(m: dict[str, Any]) -> str:
    return (
        f"| {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['quadratic_weighted_kappa']:.3f} "
        f"| {m['under_triage_rate']:.3f} | {m['over_triage_rate']:.3f} |"
    )


_TARGETS = {"field": (0.75, 0.10), "review": (0.90, 0.05)}


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


def acuity_card(cv: dict[str, Any], meta: dict[str, dict[str, Any]], data: dict[str, Any]) -> str:
    rows = []
    for mode in ("field", "review"):
        r = cv[mode]
        rows.append(f"| {mode}, safety rule (shipped) " + _fmt(r["metrics"]))
        rows.append(f"| {mode}, most likely level " + _fmt(r["metrics_most_likely_level"]))
    nurse = cv["nurse_baseline"]
    rows.append("| triage nurses (KTAS_RN), for reference " + _fmt(nurse))
    ece = ", ".join(
        f"{m} {cv[m]['calibration']['expected_calibration_error']:.3f}" for m in ("field", "review")
    )
    costs = ", ".join(f"{m} {cv[m]['fold_under_triage_costs']}" for m in ("field", "review"))
    versions = ", ".join(f"`{meta[m]['version']}`" for m in ("field", "review"))
    return f"""# Model card: acuity (KTAS 1-5), field and review modes

Versions: {versions}. Files: `acuity-field.ubj`/`.json`, `acuity-review.ubj`/`.json` (XGBoost
UBJSON + metadata with feature list, vocabulary, temperature, decision cost and SHA-256).
Metrics: `acuity-metrics.json`; plots: `acuity-field.png`, `acuity-review.png`.

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

## Method and split
XGBoost 5-class softprob (depth 3, 250 rounds, eta 0.05, fixed before evaluation), square-root
inverse-frequency class weights, temperature scaling, and a safety decision rule: the level of
least expected cost with under-triage (a less urgent level than the expert's) costing c times an
over-triage; c is the smallest of {{1, 1.25, ..., 6}} whose inner-CV under-triage meets the mode's
target (field 10%, review 5%). Vocabulary, temperature and c are fitted inside each training fold
(nested). Figures: stratified 5-fold cross-validation on the training file, seed 0
(`emsync triage train --data ktas_train.csv`). Chosen c per outer fold: {costs}.
In a one-off comparison on the same folds (not re-run by this command), a logistic regression on
the same features reached 0.654 (field) and 0.749 (review) accuracy of the most likely level,
below XGBoost's 0.665 and 0.844; depth 2-4 and 150-500 rounds moved XGBoost by under 0.015.

## Cross-validated metrics (unseen patients)
| model | accuracy | macro-F1 | QW kappa | under-triage | over-triage |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Top-label calibration error (ECE): {ece}.

Targets: field accuracy >= 0.75 with under-triage <= 10%; review accuracy >= 0.90 with
under-triage <= 5%. {_verdict(cv)}

## Intended use
Decision support for dispatchers, paramedics and ED nurses: a suggested level with probabilities
and the features that drove it, and in review mode a second opinion that flags possible
mistriage. A clinician decides; the model never sets a level on its own.

## Limitations
Small single-country data set (887 visits; 18 at level 1) from two Korean EDs; adults only
(inputs under 16 years are refused); chief complaints are short English ED phrasings and words
outside the vocabulary contribute only through the complaint families; no oxygen flag and SpO2
missing in 55% of visits; the expert label is itself one reviewer's judgement. Not validated
prospectively, in pre-hospital use, or outside Korea.
"""


def deterioration_card(cv: dict[str, Any], meta: dict[str, Any], data: dict[str, Any]) -> str:
    rows = []
    for window in cv["windows"]:
        h = window["window_hours"]
        for name in ("model", "news2_max", "news2_mean", "news2_last"):
            m = window[name]
            rows.append(f"| {h:g} h | {name} | {m['auroc']:.3f} | {m['auprc']:.3f} | {m['n']} |")
        if window["saps_i"]:
            m = window["saps_i"]
            rows.append(
                f"| {h:g} h | SAPS-I (recorded) | {m['auroc']:.3f} | {m['auprc']:.3f} | {m['n']} |"
            )
            m = window["model_on_saps_rows"]
            rows.append(
                f"| {h:g} h | model, same rows as SAPS-I "
                f"| {m['auroc']:.3f} | {m['auprc']:.3f} | {m['n']} |"
            )
    last = cv["windows"][-1]
    verdict = "; ".join(
        f"{'met' if w['model']['auroc'] >= 0.80 else 'not met'} "
        f"on the {w['window_hours']:g} h window ({w['model']['auroc']:.3f})"
        for w in cv["windows"]
    )
    return f"""# Model card: deterioration (in-hospital death from vital signs)

Version `{meta["version"]}`. Files: `deterioration.ubj`/`.json` (XGBoost UBJSON + metadata with
feature list, Platt scaling and SHA-256). Metrics: `deterioration-metrics.json`; plot:
`deterioration.png`.

## Data
PhysioNet/Computing in Cardiology Challenge 2012, training set A (ODC-By 1.0):
{data["records_kept"]} of {data["records_read"]} ICU stays kept (the rest have no vital sign or no
outcome), first 48 h. Label: in-hospital death ({last["model"]["events"]} deaths). Inputs: HR, RR,
SaO2 (as SpO2), invasive or cuff SBP/DBP/MAP, temperature, GCS, and on-oxygen (ventilated or
FiO2 > 0.21). No laboratory value, no age, no ICU type.

## Method and split
Per channel over the series so far: last, min, max, mean, SD, count, and the change of the last 6 h
against earlier; fraction of time on oxygen, hours observed, and NEWS2 (last value carried forward;
consciousness from GCS < 15) max, mean and last. XGBoost binary (depth 3, 400 rounds, eta 0.03,
fixed before evaluation), each patient's series cut at 12, 24 and 48 h for training so early scores
are meaningful; Platt scaling on inner out-of-fold margins. Stratified 5-fold cross-validation by
patient, seed 0 (`emsync risk train --data DIR`); NEWS2 and SAPS-I are scored on the same patients
and windows.

## Cross-validated metrics (unseen patients)
| window | score | AUROC | AUPRC | n |
|---|---|---|---|---|
{chr(10).join(rows)}

Calibration of the model at 48 h: ECE {last["calibration"]["expected_calibration_error"]:.3f},
Brier {last["calibration"]["brier"]:.3f}. Target AUROC >= 0.80: {verdict}.

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
