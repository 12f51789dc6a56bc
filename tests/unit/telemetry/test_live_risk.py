"""Live deterioration risk: the stream charted as the model learned it, scored by the shipped
model, with its trend, rate limit and alert levels (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emsync.telemetry.alerts import AlertLevel
from emsync.telemetry.events import VitalsReceived
from emsync.telemetry.live_risk import ChartedSeries, RiskWatch, risk_level, trend_of
from emsync.triage.registry import deterioration_model

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
NORMAL = {"hr": 72, "spo2": 97, "rr": 14, "sbp": 124, "dbp": 78, "temp": 36.8, "avpu": "A"}
SICK = {
    "hr": 135,
    "spo2": 86,
    "rr": 30,
    "sbp": 82,
    "dbp": 48,
    "temp": 38.9,
    "avpu": "V",
    "o2": True,
}


def _reading(at: datetime, **values: Any) -> dict[str, Any]:
    return {"ts": at.isoformat(), **values}


def test_the_stream_is_charted_as_hourly_means() -> None:
    series = ChartedSeries()
    series.add(T0, {"hr": 70, "sbp": 120, "dbp": 60, "avpu": "A"})
    series.add(T0 + timedelta(minutes=30), {"hr": 90, "o2": True, "avpu": "P"})
    series.add(T0 + timedelta(minutes=61), {"hr": 100, "spo2": 91})
    first, second = series.readings()
    assert first.hr == 80  # mean of the hour
    assert first.map == pytest.approx(80.0)  # 60 + (120 - 60) / 3
    assert first.gcs == pytest.approx((15 + 8) / 2)  # AVPU as GCS: A 15, P 8
    assert first.on_oxygen is True
    assert first.minutes == 30  # the hour's last reading
    assert (second.hr, second.spo2, second.minutes) == (100, 91, 61)
    assert series.hours == pytest.approx(61 / 60)


def test_a_value_that_is_not_the_patients_stays_out_of_the_hours_mean() -> None:
    series = ChartedSeries()
    series.add(T0, {"hr": 80, "sbp": 90, "dbp": 84})
    lead_off = [{"field": "hr", "kind": "lead_off"}]
    damped = [{"field": "sbp", "kind": "damped_line"}, {"field": "dbp", "kind": "damped_line"}]
    series.add(T0 + timedelta(minutes=1), {"hr": 0, "sbp": 90, "dbp": 84, "artefacts": lead_off})
    series.add(T0 + timedelta(minutes=2), {"hr": 90, "sbp": 80, "dbp": 76, "artefacts": damped})
    [hour] = series.readings()
    assert hour.hr == 85  # 80 and 90: the lead off's 0 is not a heart rate
    # A damped line is flagged but kept (it is also what a failing circulation looks like).
    sbp, dbp = (90 + 90 + 80) / 3, (84 + 84 + 76) / 3  # all three readings
    assert hour.map == pytest.approx(dbp + (sbp - dbp) / 3)


def test_the_series_keeps_the_last_48_hours() -> None:
    series = ChartedSeries()
    for hour in range(60):
        series.add(T0 + timedelta(hours=hour), {"hr": 60 + hour})
    readings = series.readings()
    assert len(readings) == 49
    assert readings[0].hr == 60 + 11
    assert readings[0].minutes == 0


def test_trend_and_levels() -> None:
    assert trend_of(None, 0.2) == "new"
    assert trend_of(0.2, 0.25) == "rising"
    assert trend_of(0.25, 0.2) == "falling"
    assert trend_of(0.2, 0.21) == "steady"
    assert risk_level(0.1, threshold=0.35, high=0.6) is None
    assert risk_level(0.4, threshold=0.35, high=0.6) is AlertLevel.MEDIUM
    assert risk_level(0.6, threshold=0.35, high=0.6) is AlertLevel.HIGH


class _Sink:
    """Collects what the watch publishes and the alert levels it asks for."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, dict[str, Any]]] = []
        self.alerts: list[tuple[str, AlertLevel | None, dict[str, Any]]] = []

    def publish(self, channel: str, kind: str, data: Any) -> None:
        self.published.append((channel, kind, data))

    async def alert(self, patient: str, level: AlertLevel | None, detail: dict[str, Any]) -> None:
        self.alerts.append((patient, level, detail))


def _watch(sink: _Sink, *, interval_s: float = 600, threshold: float = 0.35) -> RiskWatch:
    model = deterioration_model()
    return RiskWatch(
        publish=sink.publish,
        score=model.score,
        model_version=model.version,
        interval=timedelta(seconds=interval_s),
        threshold=threshold,
        high=0.9,
        raise_alert=sink.alert,
    )


async def _feed(watch: RiskWatch, patient: str, values: dict[str, Any], minutes: range) -> None:
    for m in minutes:
        at = T0 + timedelta(minutes=m)
        await watch.on_vitals(
            VitalsReceived(patient_id=patient, device_id="mon", readings=(_reading(at, **values),))
        )
    await watch.settled()  # scores are made in the watch's own task, off the ingest path


async def test_the_shipped_model_scores_a_sick_adult_above_a_well_one() -> None:
    sink = _Sink()
    watch = _watch(sink)
    await _feed(watch, "well", NORMAL, range(0, 180, 5))
    await _feed(watch, "sick", SICK, range(0, 180, 5))
    well, sick = watch.latest("well"), watch.latest("sick")
    assert well is not None
    assert sick is not None
    assert 0 < well.probability < sick.probability < 1
    assert sick.model_version == deterioration_model().version
    # Scored at most once per 10 minutes: 18 of the 36 readings each.
    scored = [d for ch, kind, d in sink.published if ch == "vitals:sick" and kind == "risk"]
    assert len(scored) == 18
    assert scored[0]["trend"] == "new"
    assert scored[-1]["previous"] is not None


async def test_a_score_over_the_threshold_asks_for_an_alert_with_its_detail() -> None:
    sink = _Sink()
    model = deterioration_model()
    watch = _watch(sink, interval_s=0, threshold=0.0)
    await _feed(watch, "p", SICK, range(0, 60, 10))
    assert sink.alerts
    patient, level, detail = sink.alerts[-1]
    assert patient == "p"
    assert level is AlertLevel.MEDIUM
    assert detail == {"risk": round(watch.latest("p").probability, 4), "model": model.version}  # type: ignore[union-attr]


async def test_below_the_threshold_no_alert_is_asked_for() -> None:
    sink = _Sink()
    watch = _watch(sink, interval_s=0, threshold=0.99)
    await _feed(watch, "p", NORMAL, range(0, 60, 10))
    assert sink.published
    assert sink.alerts == []


async def test_a_child_scored_with_pews_is_not_scored_by_the_adult_model() -> None:
    sink = _Sink()
    watch = _watch(sink, interval_s=0)
    child = {**SICK, "pews": {"total": 7, "band": "medium"}}
    await _feed(watch, "child", child, range(0, 30, 10))
    assert watch.latest("child") is None
    assert sink.published == []


async def test_a_worsening_patient_is_shown_rising() -> None:
    sink = _Sink()
    watch = _watch(sink, interval_s=0)
    await _feed(watch, "p", NORMAL, range(0, 60, 5))
    await _feed(watch, "p", SICK, range(60, 120, 5))
    trends = [d["trend"] for _, kind, d in sink.published if kind == "risk"]
    assert trends[0] == "new"
    assert "rising" in trends[12:]
    assert "falling" not in trends[12:]


async def test_start_runs_the_model_once_and_publishes_nothing() -> None:
    """The model is loaded and run at start-up (before the first reading, not in its window)."""
    sink = _Sink()
    model = deterioration_model()
    scored: list[float] = []

    def score(readings: Any) -> float:
        scored.append(model.score(readings))
        return scored[-1]

    watch = RiskWatch(
        publish=sink.publish,
        score=score,
        model_version=model.version,
        interval=timedelta(minutes=10),
        threshold=0.35,
        high=0.9,
        raise_alert=sink.alert,
    )
    await watch.start()
    assert len(scored) == 1
    assert 0 < scored[0] < 1
    assert sink.published == []
    assert sink.alerts == []
    assert watch.latest("anyone") is None
