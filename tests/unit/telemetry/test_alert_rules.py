"""Alert rules, the latest-value cache, NEWS2 over partial readings, downsampling, key wrapping
and the simulator's replay parsers: pure, no I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emsync.core.crypto import Keyring, KeyringError
from emsync.core.settings import TelemetrySettings
from emsync.telemetry import keys
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.alerts import (
    DEFAULT_MIN_BAND,
    AlertAction,
    AlertLevel,
    AlertStatus,
    Decision,
    OpenAlert,
    ResolvedAlert,
    ScoreObservation,
    alert_level,
    decide,
    next_status,
    scored_detail,
)
from emsync.telemetry.simulator import (
    Scenario,
    load_table,
    parse_physionet_record,
    scenario_values,
)
from emsync.telemetry.vitals import LatestValues, downsample, score

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
HOLD = timedelta(minutes=5)


def test_bands_map_to_levels_above_the_minimum() -> None:
    assert alert_level("none", "low") is None
    assert alert_level("low", "low") is AlertLevel.LOW
    assert alert_level("low", "medium") is None
    assert alert_level("high", "medium") is AlertLevel.HIGH


def test_a_flapping_value_does_not_raise_a_second_alert() -> None:
    open_alert = OpenAlert(level="medium", status=AlertStatus.RAISED, cleared_at=None)
    assert (
        decide(open_alert=None, observed=AlertLevel.MEDIUM, now=T0, holdoff=HOLD) is Decision.RAISE
    )
    assert (
        decide(open_alert=open_alert, observed=AlertLevel.MEDIUM, now=T0, holdoff=HOLD)
        is Decision.NOTHING
    )
    assert decide(open_alert=open_alert, observed=None, now=T0, holdoff=HOLD) is Decision.CLEAR
    cleared = OpenAlert(level="medium", status=AlertStatus.RAISED, cleared_at=T0)
    within = T0 + timedelta(minutes=1)
    assert decide(open_alert=cleared, observed=None, now=within, holdoff=HOLD) is Decision.NOTHING
    assert (
        decide(open_alert=cleared, observed=AlertLevel.LOW, now=within, holdoff=HOLD)
        is Decision.UNCLEAR
    )
    assert (
        decide(open_alert=cleared, observed=None, now=T0 + HOLD, holdoff=HOLD) is Decision.RESOLVE
    )


def test_a_worse_level_raises_the_open_alert_and_needs_a_new_acknowledgement() -> None:
    acked = OpenAlert(level="low", status=AlertStatus.ACKNOWLEDGED, cleared_at=None)
    assert (
        decide(open_alert=acked, observed=AlertLevel.HIGH, now=T0, holdoff=HOLD)
        is Decision.RAISE_LEVEL
    )
    assert next_status(AlertStatus.ACKNOWLEDGED, AlertAction.RAISE_LEVEL) is AlertStatus.RAISED


def test_no_reraise_within_holdoff_after_resolution_unless_worse() -> None:
    last = ResolvedAlert(level="medium", resolved_at=T0)
    soon = T0 + timedelta(minutes=2)
    assert (
        decide(
            open_alert=None, observed=AlertLevel.MEDIUM, now=soon, holdoff=HOLD, last_resolved=last
        )
        is Decision.NOTHING
    )
    assert (
        decide(
            open_alert=None, observed=AlertLevel.HIGH, now=soon, holdoff=HOLD, last_resolved=last
        )
        is Decision.RAISE
    )
    later = T0 + HOLD
    assert (
        decide(
            open_alert=None, observed=AlertLevel.MEDIUM, now=later, holdoff=HOLD, last_resolved=last
        )
        is Decision.RAISE
    )


def test_lifecycle_table_refuses_moves_out_of_resolved() -> None:
    assert next_status(AlertStatus.RAISED, AlertAction.ACKNOWLEDGE) is AlertStatus.ACKNOWLEDGED
    assert next_status(AlertStatus.RESOLVED, AlertAction.ACKNOWLEDGE) is None
    assert next_status(AlertStatus.ACKNOWLEDGED, AlertAction.ACKNOWLEDGE) is None
    assert next_status(AlertStatus.ACKNOWLEDGED, AlertAction.ESCALATE) is None


def test_news2_needs_every_measured_parameter_within_the_window() -> None:
    cache = LatestValues()
    cache.update("p", T0, {"hr": 120, "spo2": 95, "rr": 22, "sbp": 100})
    fields = cache.get("p") or {}
    assert score(fields, at=T0, window=timedelta(minutes=15)) is None
    cache.update("p", T0 + timedelta(minutes=1), {"temp": 38.5})
    fields = cache.get("p") or {}
    scored = score(fields, at=T0 + timedelta(minutes=1), window=timedelta(minutes=15))
    assert scored is not None
    # rr 22 → 2, spo2 95 → 1, sbp 100 → 2, hr 120 → 2, temp 38.5 → 1; air and Alert assumed.
    assert (scored.total, scored.band, scored.assumed) == (8, "high", ("o2", "avpu"))
    assert score(fields, at=T0 + timedelta(minutes=30), window=timedelta(minutes=15)) is None


@pytest.mark.parametrize("stale", ["rr", "spo2", "sbp", "hr", "temp"])
def test_news2_is_not_scored_when_one_measured_parameter_is_stale(stale: str) -> None:
    cache = LatestValues()
    fresh = {"hr": 80, "spo2": 97, "rr": 16, "sbp": 120, "temp": 37.0}
    cache.update("p", T0 - timedelta(minutes=20), {stale: fresh.pop(stale)})
    cache.update("p", T0, fresh)
    assert score(cache.get("p") or {}, at=T0, window=timedelta(minutes=15)) is None


def test_news2_uses_oxygen_and_consciousness_only_within_the_window() -> None:
    cache = LatestValues()
    cache.update("p", T0 - timedelta(minutes=20), {"o2": True, "avpu": "V"})
    cache.update("p", T0, {"hr": 80, "spo2": 97, "rr": 16, "sbp": 120, "temp": 37.0})
    stale = score(cache.get("p") or {}, at=T0, window=timedelta(minutes=15))
    assert stale is not None
    assert (stale.total, stale.band, stale.assumed) == (0, "none", ("o2", "avpu"))
    cache.update("p", T0, {"o2": True, "avpu": "V"})
    current = score(cache.get("p") or {}, at=T0, window=timedelta(minutes=15))
    assert current is not None
    # On oxygen → 2, Voice → 3: total 5, medium, nothing assumed.
    assert (current.total, current.band, current.assumed) == (5, "medium", ())
    assert current.subscores == (0, 0, 2, 0, 0, 3, 0)
    assert type(current.band) is str


def test_an_older_reading_does_not_overwrite_a_newer_value() -> None:
    cache = LatestValues()
    cache.update("p", T0, {"hr": 90})
    cache.update("p", T0 - timedelta(seconds=5), {"hr": 50, "spo2": 99})
    fields = cache.get("p") or {}
    assert fields["hr"] == (90, T0)
    assert fields["spo2"][0] == 99


def test_downsampling_averages_each_bucket() -> None:
    points = [(T0 + timedelta(seconds=i), float(i)) for i in range(100)]
    out = downsample(points, start=T0, end=T0 + timedelta(seconds=100), n=4)
    assert [n for _, _, n in out] == [25, 25, 25, 25]
    assert [v for _, v, _ in out] == [12.0, 37.0, 62.0, 87.0]
    with pytest.raises(ValueError):
        downsample(points, start=T0, end=T0, n=0)


def test_a_wrapped_key_opens_only_for_its_device_and_key_id() -> None:
    ring = Keyring(keys={1: b"a" * 32}, active_id=1)
    key = keys.new_device_key(Algorithm.ASCON_AEAD128)
    assert len(key) == 16
    wrapped = keys.wrap(ring, device_id="d1", key_id=1, key=key)
    assert keys.unwrap(ring, device_id="d1", key_id=1, wrapped=wrapped) == key
    with pytest.raises(KeyringError):
        keys.unwrap(ring, device_id="d2", key_id=1, wrapped=wrapped)
    rotated = ring.rotated()
    rewrapped = keys.rewrap(rotated, device_id="d1", key_id=1, wrapped=wrapped)
    assert rewrapped is not None
    assert Keyring.key_id_of(rewrapped) == 2
    assert keys.rewrap(rotated, device_id="d1", key_id=1, wrapped=rewrapped) is None


def test_master_key_file_rotation_keeps_old_ids(tmp_path: Path) -> None:
    path = tmp_path / "master.json"
    keys.create_master_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        keys.create_master_key_file(path)
    ring = keys.rotate_master_key_file(path)
    assert (sorted(ring.keys), ring.active_id) == ([1, 2], 2)


def test_physionet_record_groups_monitor_channels_by_minute() -> None:
    text = (
        "Time,Parameter,Value\n00:00,RecordID,132539\n00:07,HR,73\n00:07,NISysABP,-1\n"
        "00:37,Temp,35.1\n00:37,Glucose,120\n"
    )
    record = parse_physionet_record("132539", text)
    assert [(r.offset_seconds, r.values) for r in record.readings] == [
        (420, {"hr": 73.0}),
        (2220, {"temp": 35.1}),
    ]


def test_csv_replay_needs_patient_and_seconds(tmp_path: Path) -> None:
    good = tmp_path / "r.csv"
    good.write_text("patient,seconds,hr,o2,avpu\nA,10,80,yes,a\nA,0,82,,\nB,5,90,no,V\n")
    records = load_table(good, limit=10)
    assert [r.name for r in records] == ["A", "B"]
    assert records[0].readings[0].values == {"hr": 82.0}
    assert records[0].readings[1].values == {"hr": 80.0, "o2": True, "avpu": "A"}
    bad = tmp_path / "b.csv"
    bad.write_text("who,hr\nA,80\n")
    with pytest.raises(ValueError, match="patient"):
        load_table(bad, limit=10)


def test_sepsis_scenario_drifts_to_a_high_news2() -> None:
    rng = random.Random(1)
    values = scenario_values(Scenario.SEPSIS, 15, rng)
    cache = LatestValues()
    cache.update("p", T0, values)
    scored = score(cache.get("p") or {}, at=T0, window=timedelta(minutes=1))
    assert scored is not None
    assert scored.band == "high"
    stable = scenario_values(Scenario.STABLE, 15, rng)
    cache.update("q", T0, stable)
    calm = score(cache.get("q") or {}, at=T0, window=timedelta(minutes=1))
    assert calm is not None
    assert calm.total <= 1


def _detail(total: int, band: str, seconds: int) -> dict[str, object]:
    return {"total": total, "band": band, "ts": (T0 + timedelta(seconds=seconds)).isoformat()}


def test_the_default_threshold_is_rcp_total_5_or_a_single_red_score() -> None:
    assert DEFAULT_MIN_BAND == "low-medium" == TelemetrySettings().news2_alert_min_band
    assert alert_level("low", DEFAULT_MIN_BAND) is None  # total 1-4: the tile shows it
    assert alert_level("low-medium", DEFAULT_MIN_BAND) is AlertLevel.LOW_MEDIUM
    assert alert_level("medium", DEFAULT_MIN_BAND) is AlertLevel.MEDIUM


def test_a_batch_keeps_its_worst_and_its_newest_reading() -> None:
    obs = ScoreObservation(AlertLevel.HIGH, _detail(11, "high", 30), _detail(11, "high", 30), T0)
    obs.add(AlertLevel.MEDIUM, _detail(6, "medium", 60), T0 + timedelta(seconds=60))
    assert obs.level is AlertLevel.HIGH
    assert obs.worst is not None
    assert obs.worst["total"] == 11
    assert obs.latest is not None
    assert obs.latest["total"] == 6
    # A reading that arrives late (older) is not the current score.
    obs.add(None, _detail(2, "low", 0), T0 - timedelta(seconds=10))
    assert obs.latest["total"] == 6
    # Below the minimum band, the higher total is still the worst (the peak a raise keeps).
    below = ScoreObservation(None, _detail(2, "low", 0), _detail(2, "low", 0), T0)
    below.add(None, _detail(4, "low", 5), T0 + timedelta(seconds=5))
    assert below.worst is not None
    assert below.worst["total"] == 4


def test_an_alert_score_follows_the_newest_reading_and_keeps_its_peak() -> None:
    raised = scored_detail(None, ScoreObservation(AlertLevel.HIGH, _detail(7, "high", 0), None))
    assert raised is not None
    assert (raised["total"], raised["peak"]["total"]) == (7, 7)
    worse = ScoreObservation(AlertLevel.HIGH, _detail(11, "high", 30), _detail(9, "high", 40))
    after = scored_detail(raised, worse)
    assert after is not None
    assert (after["total"], after["peak"]["total"]) == (9, 11)
    assert after["peak"]["ts"] == _detail(11, "high", 30)["ts"]
    better = ScoreObservation(None, _detail(3, "low", 90), _detail(3, "low", 90))
    settled = scored_detail(after, better)
    assert settled is not None
    assert (settled["total"], settled["band"], settled["peak"]["total"]) == (3, "low", 11)
    # An equal later score does not move the peak's time.
    again = scored_detail(
        settled, ScoreObservation(AlertLevel.HIGH, _detail(11, "high", 120), None)
    )
    assert again is not None
    assert again["peak"]["ts"] == _detail(11, "high", 30)["ts"]
    # A stored alert from before peaks were kept: its one score is its peak.
    legacy = scored_detail(_detail(8, "high", 0), better)
    assert legacy is not None
    assert legacy["peak"]["total"] == 8


def test_a_snapshot_of_the_cache_does_not_change_as_readings_arrive() -> None:
    # The API reads a snapshot while the ingest, on its own thread, adds fields to the cache.
    cache = LatestValues()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    cache.update("p", at, {"hr": 70})
    snapshot = cache.snapshot("p")
    cache.update("p", at + timedelta(seconds=1), {"hr": 90, "spo2": 97})
    assert snapshot == {"hr": (70, at)}
    assert cache.snapshot("p") == {
        "hr": (90, at + timedelta(seconds=1)),
        "spo2": (97, at + timedelta(seconds=1)),
    }
    assert cache.snapshot("nobody") is None
