"""Shipped models: load, predict, explain; the service-level `assess`; a tiny training run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from emsync.core.errors import ValidationFailed
from emsync.triage.acuity import AcuityModel, fit_acuity, safety_decision
from emsync.triage.assess import TriageInputs, assess
from emsync.triage.features import Mode
from emsync.triage.ktas import ArrivalMode, Sex, load_ktas
from emsync.triage.news2 import Acvpu, News2Band
from emsync.triage.registry import acuity_model, deterioration_model
from emsync.triage.risk import VitalsReading, feature_names, risk_features
from tests.shared_data import shared_data_dir


def inputs(**overrides: object) -> TriageInputs:
    values: dict[str, object] = {
        "age": 67,
        "sex": Sex.MALE,
        "chief_complaint": "chest pain",
        "arrival_mode": ArrivalMode.PUBLIC_AMBULANCE,
        "consciousness": Acvpu.ALERT,
        "pain": True,
        "nrs_pain": 7,
        "sbp": 95,
        "dbp": 60,
        "hr": 118,
        "rr": 24,
        "temp": 36.8,
        "spo2": 93,
    }
    values.update(overrides)
    return TriageInputs(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", list(Mode))
def test_shipped_acuity_model_predicts_probabilities_and_explanation(mode: Mode) -> None:
    model = acuity_model(mode)
    assert model.mode is mode
    assert model.version.startswith(f"acuity-{mode.value}-")
    result = assess(inputs(nurse_level=3), mode)
    assert 1 <= result.level <= 5
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    assert set(result.probabilities) == {1, 2, 3, 4, 5}
    assert 0 < len(result.explanation) <= 8
    names = set(model.space.names)
    assert all(c.feature in names for c in result.explanation)
    magnitudes = [abs(c.contribution) for c in result.explanation]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert result.model_version == model.version


def test_registry_caches_one_model_per_process() -> None:
    assert acuity_model(Mode.FIELD) is acuity_model(Mode.FIELD)


@pytest.mark.parametrize("mode", [Mode.FIELD, Mode.REVIEW])
def test_explanation_sums_to_the_margin_it_explains(mode: Mode) -> None:
    model = acuity_model(mode)
    row = load_ktas(shared_data_dir() / "ktas" / "ktas_train.csv").rows[0]
    x = model.features([row.visit], [row.nurse_level if mode is Mode.REVIEW else None])
    full = model.explain(x, 3)
    margin, bias = _margin_and_bias(model, x, 3)
    assert sum(c.contribution for c in full) == pytest.approx(margin - bias, abs=1e-3)


def _margin_and_bias(model: AcuityModel, x: np.ndarray, level: int) -> tuple[float, float]:
    """The explained margin and its SHAP bias: the level's softmax margin, or for the ordinal
    model minus the margin of P(less urgent than the level)."""
    import xgboost as xgb

    dm = xgb.DMatrix(x, feature_names=model.names)
    if not model.ordinal:
        margin = model.boosters[0].inplace_predict(x, predict_type="margin")[0, level - 1]
        bias = model.boosters[0].predict(dm, pred_contribs=True)[0, level - 1, -1]
        return float(margin), float(bias)
    booster = model.boosters[level - 1]
    margin = booster.inplace_predict(x, predict_type="margin")[0]
    bias = booster.predict(dm, pred_contribs=True)[0, -1]
    return -float(margin), -float(bias)


def test_a_sicker_patient_is_not_triaged_less_urgent() -> None:
    well = assess(
        inputs(chief_complaint="ankle sprain", sbp=130, dbp=80, hr=76, rr=16, spo2=99, nrs_pain=3)
    )
    sick = assess(inputs(consciousness=Acvpu.UNRESPONSIVE, sbp=70, dbp=40, hr=140, rr=32, spo2=82))
    assert sick.level < well.level


def test_news2_is_reported_when_all_vitals_are_present() -> None:
    result = assess(inputs())
    assert result.news2 is not None
    # rr 24 (2) + spo2 93 (2) + sbp 95 (2) + hr 118 (2) = 8
    assert (result.news2.total, result.news2.band) == (8, News2Band.HIGH)
    assert assess(inputs(spo2=None)).news2 is None


def test_review_mode_flags_disagreement_with_the_nurse() -> None:
    result = assess(
        inputs(
            consciousness=Acvpu.UNRESPONSIVE, sbp=70, dbp=40, hr=140, rr=32, spo2=82, nurse_level=5
        ),
        Mode.REVIEW,
    )
    assert result.level < 5
    assert result.possible_mistriage == "under-triage"


@pytest.mark.parametrize(
    ("overrides", "mode", "field"),
    [
        ({"hr": 400}, Mode.FIELD, "hr"),
        ({"spo2": 101}, Mode.FIELD, "spo2"),
        ({"age": -1}, Mode.FIELD, "age"),
        ({"age": 8, "expected_resources": 3}, Mode.FIELD, "expected_resources"),
        ({"age": 8, "respiratory_effort": "gasping"}, Mode.FIELD, "respiratory_effort"),
        ({"age": 8, "hr": 330}, Mode.FIELD, "hr"),
        ({"dbp": 120, "sbp": 110}, Mode.FIELD, "dbp"),
        ({"chief_complaint": "  "}, Mode.FIELD, "chief_complaint"),
        ({"temp": float("nan")}, Mode.FIELD, "temp"),
        ({"nurse_level": None}, Mode.REVIEW, "nurse_level"),
        ({"nurse_level": 6}, Mode.REVIEW, "nurse_level"),
        ({"consciousness": "X"}, Mode.FIELD, "consciousness"),
    ],
)
def test_implausible_input_is_rejected_with_field_reason(
    overrides: dict[str, object], mode: Mode, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        assess(inputs(**overrides), mode)
    assert field in [e["field"] for e in caught.value.extra["errors"]]


def test_a_child_gets_the_paediatric_pathway_and_never_news2() -> None:
    result = assess(
        inputs(age=3, hr=170, rr=45, sbp=90, dbp=50, spo2=91, temp=38.0, on_oxygen=True)
    )
    assert result.pathway == "paediatric"
    assert result.scale.startswith("ESI v4")
    assert result.news2 is None
    assert result.probabilities == {}
    assert result.pews is not None
    assert result.pews.total >= 8
    assert result.level <= 2
    assert result.reasons
    assert result.reference_ranges is not None
    # An infant's tachycardia that is normal at 3 years stays normal on her own chart.
    infant = assess(inputs(age=0.5, hr=140, rr=40, sbp=90, dbp=50, spo2=98, temp=37.0))
    assert infant.pews is not None
    assert infant.pews.subscores.heart_rate == 0


def test_adults_keep_the_adult_model() -> None:
    result = assess(inputs(age=16))
    assert (result.pathway, result.pews) == ("adult", None)
    assert result.probabilities


def test_unknown_mode_is_a_validation_failure() -> None:
    with pytest.raises(ValidationFailed, match="mode"):
        assess(inputs(), "triage-by-vibes")


def test_safety_decision_moves_toward_urgent_only() -> None:
    p = np.array([[0.0, 0.3, 0.0, 0.7, 0.0]])
    assert safety_decision(p, 1.0)[0] == 4
    assert safety_decision(p, 3.0)[0] == 2


def test_tiny_training_run_saves_and_reloads_the_same_model(tmp_path: Path) -> None:
    rows = load_ktas(shared_data_dir() / "ktas" / "ktas_train.csv").rows[:150]
    model = fit_acuity(rows, mode=Mode.REVIEW, inner_folds=2)
    model.metadata["version"] = "acuity-review-test"
    _, meta_path = model.save(tmp_path, "acuity-review")
    again = AcuityModel.load(meta_path)
    probe = rows[0]
    assert again.predict(probe.visit, probe.nurse_level).probabilities == pytest.approx(
        model.predict(probe.visit, probe.nurse_level).probabilities, abs=1e-6
    )
    meta = json.loads(meta_path.read_text())
    assert meta["features"]["names"][-1] == "nurse_level"


@pytest.mark.parametrize("variant", ["ordinal+text", "softmax+text"])
def test_every_variant_saves_and_reloads_without_pickle(tmp_path: Path, variant: str) -> None:
    rows = load_ktas(shared_data_dir() / "ktas" / "ktas_train.csv").rows[:200]
    model = fit_acuity(rows, mode=Mode.FIELD, inner_folds=2, variants=(variant,))
    assert model.variant == variant
    _, meta_path = model.save(tmp_path, "m")
    again = AcuityModel.load(meta_path)
    probe = rows[3].visit
    assert again.predict(probe).probabilities == pytest.approx(
        model.predict(probe).probabilities, abs=1e-6
    )
    assert json.loads(meta_path.read_text())["text_model"]["vocabulary"]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == sorted(
        [".json"] + [".ubj"] * len(model.boosters)
    )


def test_tampered_model_file_is_refused(tmp_path: Path) -> None:
    rows = load_ktas(shared_data_dir() / "ktas" / "ktas_train.csv").rows[:120]
    model_path, meta_path = fit_acuity(rows, mode=Mode.FIELD, inner_folds=2).save(tmp_path, "m")
    model_path.write_bytes(model_path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError, match="checksum"):
        AcuityModel.load(meta_path)


def reading(minutes: float, **vitals: float) -> VitalsReading:
    return VitalsReading(minutes=minutes, **vitals)  # type: ignore[arg-type]


def test_deterioration_score_updates_as_readings_arrive() -> None:
    model = deterioration_model()
    stable = [
        reading(m, hr=78, rr=16, sbp=125, dbp=75, map=90, temp=36.9, gcs=15)
        for m in range(0, 600, 30)
    ]
    failing = stable + [
        reading(600 + m, hr=120 + m / 10, rr=28, sbp=85 - m / 20, dbp=45, map=58, temp=38.9, gcs=9)
        for m in range(0, 360, 30)
    ]
    low, high = model.score(stable), model.score(failing)
    assert 0.0 < low < high < 1.0


def test_risk_features_shape_and_missing_channels() -> None:
    x = risk_features([reading(0, hr=80), reading(60, hr=90)])
    assert x.shape == (len(feature_names()),)
    names = feature_names()
    assert x[names.index("hr_last")] == 90
    assert x[names.index("hr_count")] == 2
    assert math.isnan(x[names.index("temp_mean")])
    assert x[names.index("temp_count")] == 0
    with pytest.raises(ValueError, match="at least one reading"):
        risk_features([])


def test_an_unrecorded_sex_keeps_the_more_urgent_of_both_assessments() -> None:
    # Found with the shipped model: this patient is level 3 as a woman and 2 as a man.
    facts = {"age": 78, "chief_complaint": "abdominal pain", "sbp": 130, "hr": 80, "rr": 16}
    facts |= {"pain": False, "nrs_pain": None, "spo2": 90, "temp": 37.0, "dbp": 50}
    as_female = assess(inputs(sex=Sex.FEMALE, **facts))
    as_male = assess(inputs(sex=Sex.MALE, **facts))
    assert {as_female.level, as_male.level} == {2, 3}
    unknown = assess(inputs(sex="unknown", **facts))
    assert unknown.level == 2
    assert unknown.reasons == (
        "Sex not recorded: level 3 if female, 2 if male; the more urgent is kept.",
    )


def test_the_safety_rule_says_why_it_chose_a_more_urgent_level() -> None:
    result = assess(
        inputs(
            sex=Sex.MALE,
            age=30,
            chief_complaint="headache",
            sbp=130,
            hr=80,
            rr=16,
            spo2=90,
            temp=37.0,
            dbp=50,
            pain=False,
            nrs_pain=None,
        )
    )
    assert result.level < result.most_likely_level
    assert result.safety_rule is not None
    assert f"Most likely level {result.most_likely_level}" in result.safety_rule
    assert f"so level {result.level}." in result.safety_rule
    # Here the most likely level is also the safety rule's choice: nothing to explain.
    settled = assess(
        inputs(
            sex=Sex.MALE,
            age=30,
            chief_complaint="chest pain",
            sbp=90,
            hr=80,
            rr=16,
            spo2=90,
            temp=37.0,
            dbp=50,
            pain=False,
            nrs_pain=None,
        )
    )
    assert settled.level == settled.most_likely_level
    assert settled.safety_rule is None
