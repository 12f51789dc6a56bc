"""Artefact rules (per reading and per window), the window forest, and a child's live PEWS."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from sklearn.ensemble import IsolationForest

from emsync.telemetry.anomaly import IsolationForestModel, Tree, window_features
from emsync.telemetry.artefact_eval import (
    Tally,
    evaluate_series,
    fit_forest,
    inject,
    news2_states,
    points_of,
)
from emsync.telemetry.artefact_windows import FOREST, json_time
from emsync.telemetry.artefacts import (
    ArtefactKind,
    ArtefactRules,
    flat_runs,
    without_artefacts,
)
from emsync.telemetry.paediatric import score_pews
from emsync.telemetry.schemas import ArtefactsPush
from emsync.triage.physionet import Outcome, PhysionetRecord
from emsync.triage.risk import VitalsReading

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NORMAL = {"hr": 80.0, "spo2": 97.0, "rr": 16.0, "sbp": 120.0, "dbp": 75.0, "temp": 37.0}


def after(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(rules: ArtefactRules, seconds: float, **values: float) -> set[tuple[str, str]]:
    return {(a.field, a.kind.value) for a in rules.check("p", after(seconds), values)}


def test_heart_rate_zero_with_a_pulse_is_a_lead_off_without_one_it_is_not() -> None:
    rules = ArtefactRules()
    assert kinds(rules, 0, **NORMAL) == set()
    assert kinds(rules, 1, hr=0, spo2=97) == {("hr", "lead_off")}
    assert kinds(rules, 2, hr=0, sbp=110) == {("hr", "lead_off")}
    assert kinds(rules, 3, hr=0) == set()
    assert kinds(rules, 4, hr=0, spo2=60) == set()  # no perfusion to speak of: maybe real


def test_a_desaturation_with_an_erratic_rate_is_motion_a_steady_rate_is_not() -> None:
    rules = ArtefactRules()
    kinds(rules, 0, **NORMAL)
    assert kinds(rules, 5, spo2=82, hr=125) == {("spo2", "motion"), ("hr", "motion")}
    rules = ArtefactRules()
    kinds(rules, 0, **NORMAL)
    assert kinds(rules, 5, spo2=82, hr=90) == set()  # real hypoxia: the score-3 SpO2 stands
    rules = ArtefactRules()
    kinds(rules, 0, **NORMAL)
    assert kinds(rules, 120, spo2=82, hr=125) == set()  # minutes apart: could be the patient


def test_temperature_falling_faster_than_a_body_can_is_a_probe_off() -> None:
    rules = ArtefactRules()
    kinds(rules, 0, temp=37.0)
    assert kinds(rules, 30, temp=31.0) == {("temp", "probe_off")}
    rules = ArtefactRules()
    kinds(rules, 0, temp=37.0)
    assert kinds(rules, 3600, temp=34.5) == set()  # an hour: real cooling is possible


def test_a_collapsed_pulse_pressure_is_flagged_but_still_scored() -> None:
    found = ArtefactRules().check("p", T0, {"sbp": 80, "dbp": 76})
    assert {a.kind for a in found} == {ArtefactKind.DAMPED_LINE}
    assert without_artefacts({"sbp": 80, "dbp": 76}, found) == {"sbp": 80, "dbp": 76}


def test_flagged_values_are_not_remembered_as_the_last_real_one() -> None:
    rules = ArtefactRules()
    kinds(rules, 0, **NORMAL)
    kinds(rules, 1, hr=0, spo2=97)  # lead off: the last real HR stays 80
    assert kinds(rules, 5, spo2=85, hr=115) == {("spo2", "motion"), ("hr", "motion")}


def test_flat_line_flags_the_repeats_after_the_value_that_froze() -> None:
    times = [after(3 * i) for i in range(40)]
    assert flat_runs(times, [80.0] * 40) == [(1, 39)]
    assert flat_runs(times[:20], [80.0] * 20) == []  # under 30 readings
    varied = [80.0 + (i % 3) for i in range(40)]
    assert flat_runs(times, varied) == []


def test_forest_scores_like_scikit_learn_and_survives_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 7))
    forest = IsolationForest(n_estimators=20, max_samples=128, random_state=0).fit(x)

    model = IsolationForestModel(
        trees=tuple(
            Tree(
                left=e.tree_.children_left,
                right=e.tree_.children_right,
                feature=e.tree_.feature,
                threshold=e.tree_.threshold,
                samples=e.tree_.n_node_samples.astype(float),
                features=np.asarray(f),
            )
            for e, f in zip(forest.estimators_, forest.estimators_features_, strict=True)
        ),
        max_samples=128,
        threshold=0.6,
        metadata={},
    )
    np.testing.assert_allclose(model.score(x[:50]), -forest.score_samples(x[:50]), rtol=1e-9)
    path = tmp_path / "forest.json"
    model.save(path)
    again = IsolationForestModel.load(path)
    np.testing.assert_allclose(again.score(x[:50]), model.score(x[:50]), rtol=1e-5)


def test_window_features_see_a_spike_that_reverses_not_a_step_that_stays() -> None:
    minutes = [0.0, 1.0, 2.0, 3.0]
    spike = window_features(minutes, {"hr": [80, 160, 80, 80]})
    step = window_features(minutes, {"hr": [80, 160, 160, 160]})
    assert spike[1, 0] == pytest.approx(8.0)  # 80 bpm / a scale of 10
    assert step[1, 0] == 0.0


def record(n: int = 60) -> PhysionetRecord:
    readings = tuple(
        VitalsReading(
            minutes=30.0 * i,
            hr=80 + (i % 5),
            spo2=96 + (i % 3),
            sbp=120 + (i % 7),
            dbp=70,
            temp=37.0 + 0.1 * (i % 2),
            rr=16 + (i % 2),
        )
        for i in range(n)
    )
    return PhysionetRecord(str(n), readings, Outcome(str(n), 0, None, None))


def test_the_evaluation_finds_injected_episodes_and_never_lowers_a_true_score_3() -> None:
    forest = fit_forest([record(80), record(90), record(70)], seed=0)
    tally = Tally()

    # A patient who really deteriorates: SpO2 falls to 88 (score 3) and stays.
    sick = [
        VitalsReading(minutes=30.0 * i, hr=85, spo2=97 if i < 30 else 88, sbp=120, dbp=70, rr=16)
        for i in range(60)
    ]
    points = inject(points_of(sick), random.Random(1))
    evaluate_series(points, forest, tally)
    assert sum(cell[0] for cell in tally.per_kind.values()) > 0
    assert tally.single_param_3_readings > 0
    assert tally.single_param_3_delayed == 0
    states = news2_states(points_of(sick))
    assert states[-1][2]["spo2"] == 3


def test_a_childs_live_pews_needs_the_monitor_channels_in_the_window() -> None:
    fields = {"hr": (165, T0), "rr": (48, T0), "spo2": (90, T0), "o2": (True, T0)}
    scored = score_pews(fields, at=T0, window=timedelta(minutes=15), age_years=2)
    assert scored is not None
    assert (scored.total, scored.band) == (7, "medium")
    assert "systolic_bp" in scored.not_measured
    assert score_pews({"hr": (165, T0)}, at=T0, window=timedelta(minutes=15), age_years=2) is None
    # Age 0 in whole years: each item from the worse infant group (HR 105 scores 1 under 3 months).
    infant = score_pews(
        {"hr": (105, T0), "rr": (40, T0), "spo2": (98, T0)},
        at=T0,
        window=timedelta(minutes=15),
        age_years=0,
    )
    assert infant is not None
    assert infant.subscores[0] == 1


async def test_window_checks_publish_a_frozen_heart_rate_and_a_spike_once() -> None:
    from emsync.telemetry.artefact_windows import ArtefactWindows
    from emsync.telemetry.events import VitalsReceived

    published: list[tuple[str, str, Any]] = []
    windows = ArtefactWindows(lambda c, t, d: published.append((c, t, d)))
    readings = [{"ts": after(2 * i).isoformat(), "hr": 80 + (i % 4), "spo2": 97} for i in range(10)]
    readings[5] = {**readings[5], "hr": 170}  # a double-counted beat, gone the next reading
    readings += [{"ts": after(20 + 2 * i).isoformat(), "hr": 90, "spo2": 97} for i in range(40)]
    event = VitalsReceived(patient_id="p", device_id="d", readings=tuple(readings))
    await windows.on_vitals(event)
    # The pipeline awaits this before storing the next batch: the judge is not in it.
    assert published == []
    await windows.settled()
    await windows.on_vitals(event)  # the same readings again: nothing new to say
    await windows.settled()
    assert len(published) == 1
    channel, kind, data = published[0]
    assert (channel, kind) == ("vitals:p", "artefacts")
    # The channel's declared schema for this message type, exactly as pydantic renders it.
    assert ArtefactsPush.model_validate(data).model_dump(mode="json") == data
    flagged = {datetime.fromisoformat(r["ts"]): r["artefacts"] for r in data["readings"]}
    assert {"field": "hr", "kind": "anomaly"} in flagged[after(10)]
    assert {"field": "hr", "kind": "flat_line"} in flagged[after(30)]


async def test_window_checks_judge_every_patient_with_readings_that_arrived_meanwhile() -> None:
    from emsync.telemetry.artefact_windows import ArtefactWindows
    from emsync.telemetry.events import VitalsReceived

    published: list[tuple[str, str, Any]] = []
    windows = ArtefactWindows(lambda c, t, d: published.append((c, t, d)), round_seconds=0)
    frozen = tuple({"ts": after(2 * i).isoformat(), "hr": 90} for i in range(40))
    for patient in ("a", "b", "c"):  # one judge round for all three, none waited for
        await windows.on_vitals(VitalsReceived(patient_id=patient, device_id="d", readings=frozen))
    await windows.settled()
    assert sorted(channel for channel, _, _ in published) == ["vitals:a", "vitals:b", "vitals:c"]
    later = tuple({"ts": after(100 + 2 * i).isoformat(), "hr": 90} for i in range(3))
    await windows.on_vitals(VitalsReceived(patient_id="b", device_id="d", readings=later))
    await windows.settled()
    assert [channel for channel, _, _ in published[3:]] == ["vitals:b"]  # only what is new
    await windows.stop()


def test_the_forest_asked_about_new_readings_only_says_what_it_says_of_the_whole_window() -> None:
    from emsync.telemetry.artefact_windows import judge_window, judge_windows

    rng = np.random.default_rng(3)
    rows = [
        (after(2 * i), {"hr": 80 + float(rng.normal(0, 2)), "spo2": 97, "rr": 15, "sbp": 120})
        for i in range(64)
    ]
    for i in (10, 31, 50, 62):
        rows[i] = (rows[i][0], {**rows[i][1], "hr": 175, "sbp": 60})  # beats that come back
    forest = IsolationForestModel.load(FOREST)
    whole = judge_window(rows, forest)
    assert {i for i, f in whole.items() if {"field": "hr", "kind": "anomaly"} in f} >= {10, 31}
    for first in (1, 11, 30, 31, 50, 62, 63):
        part, again = judge_windows([(rows, first), (rows[:40], 0)], forest)
        assert {i: f for i, f in part.items() if i >= first} == {
            i: f for i, f in whole.items() if i >= first
        }
        assert again == judge_window(rows[:40], forest)  # windows asked together stay apart


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 1, 1, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 1, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(seconds=30))),
        datetime(2026, 1, 1, 12, 30),
    ],
)
def test_window_push_times_are_rendered_as_pydantic_renders_them(at: datetime) -> None:
    assert json_time(at) == TypeAdapter(datetime).dump_python(at, mode="json")
