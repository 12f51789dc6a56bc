"""Telemetry readings as ATMIST sign sets (pure): per-field conversion, thinning, merging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from emsync.handoffs import signs
from emsync.handoffs.picture import news2_of
from emsync.handoffs.schemas import VitalSigns

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_each_field_that_fits_is_kept_and_the_rest_dropped() -> None:
    sign = signs.vital_set(
        T0, {"hr": 301, "spo2": 96.4, "rr": 81, "sbp": 120, "dbp": 120, "temp": 45.5, "o2": True}
    )
    assert sign == {"ts": T0, "spo2": 96, "o2": True, "source": "telemetry"}
    VitalSigns.model_validate(sign)  # what is left is a valid handoff set


def test_a_reading_with_nothing_a_handoff_can_hold_is_no_set() -> None:
    assert signs.vital_set(T0, {"hr": 340, "temp": 13.5}) is None
    assert signs.vital_set(T0, {"o2": False}) is None  # oxygen alone is not a measurement


def test_a_blood_pressure_is_kept_whole_or_not_at_all() -> None:
    assert signs.vital_set(T0, {"sbp": 118.4, "dbp": 76.6}) == {
        "ts": T0,
        "sbp": 118,
        "dbp": 77,
        "source": "telemetry",
    }
    assert signs.vital_set(T0, {"sbp": 118, "hr": 80}) == {
        "ts": T0,
        "hr": 80,
        "source": "telemetry",
    }


def test_spread_keeps_at_most_n_evenly_and_always_the_newest() -> None:
    readings = [(T0 + timedelta(seconds=s), s) for s in range(0, 1801)]  # 1 Hz, half an hour
    chosen = signs.spread(readings, 6)
    assert [value for _, value in chosen] == [0, 360, 720, 1080, 1440, 1800]
    assert signs.spread(readings[:3], 6) == readings[:3]
    assert signs.spread(readings, 1) == [readings[-1]]
    assert signs.spread([], 6) == []


def test_spread_of_bunched_readings_still_ends_on_the_newest() -> None:
    stamps = [0, 1, 2, 3, 4, 5, 6, 7, 1790, 1800]
    chosen = signs.spread([(T0 + timedelta(seconds=s), s) for s in stamps], 4)
    values = [v for _, v in chosen]
    assert values[-1] == 1800
    assert len(values) <= 4
    assert values == sorted(set(values))


def test_unusable_newest_reading_leaves_the_newest_usable_one() -> None:
    readings: list[tuple[datetime, dict[str, Any]]] = [
        (T0 + timedelta(minutes=m), {"hr": 80 + m}) for m in range(10)
    ]
    readings.append((T0 + timedelta(minutes=10), {"hr": 999}))
    filled = signs.telemetry_signs(readings, 3)
    assert [s["hr"] for s in filled] == [80, 85, 89]  # 4.5 min: the later of a tie


def test_merge_adds_by_time_without_doubling_or_replacing() -> None:
    crew = {"ts": T0, "hr": 90, "source": "crew"}
    edited = {"ts": T0 + timedelta(minutes=1), "hr": 95, "source": "telemetry"}
    incoming = [
        {"ts": T0 + timedelta(minutes=1), "hr": 120, "source": "telemetry"},  # already there
        {"ts": (T0 + timedelta(minutes=2)).isoformat(), "hr": 121, "source": "telemetry"},
    ]
    merged = signs.merge([edited, crew], incoming)
    assert [s["hr"] for s in merged] == [90, 95, 121]


def test_merge_over_the_limit_drops_the_oldest_telemetry_sets_never_the_crews() -> None:
    current = [
        {"ts": T0 + timedelta(seconds=n), "hr": 60, "source": "telemetry" if n else "crew"}
        for n in range(signs.MAX_SIGNS)
    ]
    merged = signs.merge(
        current, [{"ts": T0 + timedelta(hours=1), "hr": 70, "source": "telemetry"}]
    )
    assert len(merged) == signs.MAX_SIGNS
    assert merged[0]["source"] == "crew"
    assert merged[1]["ts"] == T0 + timedelta(seconds=2)
    assert merged[-1]["hr"] == 70


def test_a_flagged_value_travels_flagged_and_is_not_scored() -> None:
    # A monitor's lead off: HR 0 with a pulse measured. The set carries the 0 with its flag (the
    # ED must not read it as asystole nor lose that the monitor said 0); a flag on a value the
    # set could not hold goes with it.
    reading = {
        "hr": 0,
        "spo2": 97,
        "rr": 14,
        "sbp": 124,
        "dbp": 78,
        "temp": 36.8,
        "artefacts": [{"field": "hr", "kind": "lead_off"}, {"field": "temp", "kind": "probe_off"}],
    }
    reading["temp"] = 13.5  # out of a handoff's range: dropped, and its flag with it
    sign = signs.vital_set(T0, reading)
    assert sign is not None
    assert sign["hr"] == 0
    assert sign["artefacts"] == [{"field": "hr", "kind": "lead_off"}]
    earlier = VitalSigns.model_validate(
        {"ts": T0 - timedelta(minutes=2), "hr": 72, "spo2": 97, "rr": 14, "sbp": 124, "dbp": 78,
         "temp": 36.8, "source": "telemetry"}
    )  # fmt: skip
    flagged = VitalSigns.model_validate(sign)
    score = news2_of(flagged, [earlier])
    assert score is not None
    assert score.subscores["hr"] == 0  # 72 from the set before, not the lead off's 0 (3 points)
    assert "hr" in score.carried
    # Alone, the set has no heart rate a score may take.
    assert news2_of(flagged) is None
    # A flag the rules keep in the score (a damped line) is scored as measured.
    damped = VitalSigns.model_validate(
        {**earlier.model_dump(), "ts": T0, "artefacts": [{"field": "sbp", "kind": "damped_line"}]}
    )
    assert news2_of(damped) == news2_of(earlier.model_copy(update={"ts": T0}))


def test_only_a_monitor_set_carries_flags_and_only_on_values_it_has() -> None:
    crew = {"ts": T0, "hr": 0, "artefacts": [{"field": "hr", "kind": "lead_off"}]}
    with pytest.raises(ValidationError, match="monitor"):
        VitalSigns.model_validate(crew)
    absent = {"ts": T0, "spo2": 97, "source": "telemetry",
              "artefacts": [{"field": "hr", "kind": "lead_off"}]}  # fmt: skip
    with pytest.raises(ValidationError, match="lacks"):
        VitalSigns.model_validate(absent)
