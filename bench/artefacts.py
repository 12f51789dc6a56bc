"""Hot-path cost of the live clinical checks per reading: prints one JSON line.

    .venv/bin/python bench/artefacts.py

Microseconds per reading (median of `REPEAT` runs of `NUMBER` readings over 200 patients) for:
the baseline, NEWS2 scoring from the latest-value cache as the pipeline did before
(`LatestValues.update` + `vitals.score`), and the same reading through `checks.ReadingChecks`
(artefact rules, cache, NEWS2), for a clean reading, a reading with a lead off, and a child's
reading (PEWS). The added cost is reported as a ratio to the baseline measured in the same run.
It also times one window of the forest (64 readings) as it runs off the hot path.
"""

from __future__ import annotations

import json
import platform
import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from emsync.telemetry.anomaly import IsolationForestModel, window_features
from emsync.telemetry.checks import ReadingChecks
from emsync.telemetry.vitals import LatestValues, score

NUMBER = 20_000
REPEAT = 15
PATIENTS = 200
WINDOW = timedelta(minutes=15)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FOREST = Path(__file__).resolve().parents[1] / "src/emsync/telemetry/artifacts/artefact-forest.json"


def readings(hr: float) -> list[tuple[str, datetime, dict[str, Any]]]:
    out = []
    for i in range(NUMBER):
        values = {"hr": hr + i % 7, "spo2": 97, "rr": 16, "sbp": 120, "dbp": 75, "temp": 37.0}
        out.append((f"p{i % PATIENTS}", T0 + timedelta(seconds=i / PATIENTS), values))
    return out


def baseline_run(data: list[tuple[str, datetime, dict[str, Any]]]) -> None:
    cache = LatestValues()
    for patient, ts, values in data:
        reading = dict(values)  # as the checked run does (the pipeline builds one per reading)
        cache.update(patient, ts, reading)
        score(cache.get(patient) or {}, at=ts, window=WINDOW)


def checked_run(data: list[tuple[str, datetime, dict[str, Any]]], age: float | None) -> None:
    checks = ReadingChecks(LatestValues(), WINDOW)
    for patient, ts, values in data:
        checks.apply(patient, ts, dict(values), age_years=age, spo2_scale=1)


def interleaved(runs: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Microseconds per reading of each run, timed in turn so load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEAT):
        for name, run in runs.items():
            times[name].append(timeit.timeit(run, number=1))
    return {name: statistics.median(t) / NUMBER * 1e6 for name, t in times.items()}


def lead_off_data() -> list[tuple[str, datetime, dict[str, Any]]]:
    data = readings(80)
    for i in range(0, NUMBER, 50):  # one reading in 50 has the ECG lead off
        data[i][2]["hr"] = 0
    return data


def forest_window_ms() -> float:
    forest = IsolationForestModel.load(FOREST)
    rng = np.random.default_rng(0)
    minutes = list(np.arange(64) / 60.0)
    series: dict[str, list[float | None]] = {
        "hr": list(80 + rng.normal(0, 3, 64)),
        "spo2": list(97 + rng.normal(0, 1, 64)),
    }
    runs = timeit.repeat(
        lambda: forest.score(window_features(minutes, series)), number=20, repeat=5
    )
    return statistics.median(runs) / 20 * 1e3


def main() -> None:
    clean = readings(80)
    lead = lead_off_data()
    us = interleaved(
        {
            "base": lambda: baseline_run(clean),
            "adult": lambda: checked_run(clean, 60),
            "lead_off": lambda: checked_run(lead, 60),
            "child": lambda: checked_run(clean, 6),
        }
    )
    base, adult, lead_off, child = us["base"], us["adult"], us["lead_off"], us["child"]
    print(
        json.dumps(
            {
                "bench": "artefacts",
                "python": platform.python_version(),
                "baseline_news2_us": round(base, 2),
                "checks_adult_us": round(adult, 2),
                "checks_adult_lead_off_1_in_50_us": round(lead_off, 2),
                "checks_child_pews_us": round(child, 2),
                "added_us": round(adult - base, 2),
                "ratio_adult": round(adult / base, 3),
                "ratio_child": round(child / base, 3),
                "forest_window_64_ms_off_hot_path": round(forest_window_ms(), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
