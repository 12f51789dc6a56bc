"""Triage latency: single assessment p50, batch throughput, NEWS2 per reading. Prints one JSON line.

Run: .venv/bin/python bench/triage.py. Baselines measured in the same run give the ratios: a bare
`booster.inplace_predict` for the model, and a no-op function call for NEWS2.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from emsync.triage.assess import TriageInputs, assess, to_visit
from emsync.triage.features import Mode
from emsync.triage.ktas import ArrivalMode, Sex
from emsync.triage.news2 import Acvpu, news2
from emsync.triage.registry import acuity_model

INPUTS = TriageInputs(
    age=67,
    sex=Sex.MALE,
    chief_complaint="chest pain, dyspnea",
    arrival_mode=ArrivalMode.PUBLIC_AMBULANCE,
    consciousness=Acvpu.ALERT,
    pain=True,
    nrs_pain=7,
    sbp=95,
    dbp=60,
    hr=118,
    rr=24,
    temp=36.8,
    spo2=93,
)


def p50_us(fn: object, repeats: int) -> float:
    assert callable(fn)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def per_call_us(fn: object, calls: int) -> float:
    assert callable(fn)
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1000


def _noop() -> None:
    return None


def main() -> None:
    model = acuity_model(Mode.FIELD)
    for _ in range(50):  # warm caches and XGBoost's lazy initialisation
        assess(INPUTS, model=model)
    x = model.space.encode(to_visit(INPUTS))[None, :].astype(np.float64)

    predict_p50 = p50_us(lambda: assess(INPUTS, model=model, explain=0), 500)
    explained_p50 = p50_us(lambda: assess(INPUTS, model=model), 300)
    booster_p50 = p50_us(lambda: model.booster.inplace_predict(x, predict_type="margin"), 500)

    batch = np.repeat(x, 1000, axis=0)
    start = time.perf_counter()
    model.probabilities(batch)
    batch_per_s = len(batch) / (time.perf_counter() - start)

    def reading() -> object:
        return news2(rr=18, spo2=95, on_oxygen=False, sbp=118, hr=92, consciousness="A", temp=37.9)

    news2_us = min(per_call_us(reading, 100_000) for _ in range(3))
    noop_us = min(per_call_us(_noop, 100_000) for _ in range(3))
    print(
        json.dumps(
            {
                "bench": "triage",
                "assess_p50_us": round(predict_p50, 1),
                "assess_with_explanation_p50_us": round(explained_p50, 1),
                "booster_only_p50_us": round(booster_p50, 1),
                "assess_over_booster": round(predict_p50 / booster_p50, 2),
                "batch_predictions_per_s": round(batch_per_s),
                "news2_per_reading_us": round(news2_us, 3),
                "news2_over_noop_call": round(news2_us / noop_us, 1),
                "targets": {"assess_p50_us": 1000, "news2_per_reading_us": 5},
            }
        )
    )


if __name__ == "__main__":
    main()
