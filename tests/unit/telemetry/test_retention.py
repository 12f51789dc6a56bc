"""Monthly readings partitions and retention, as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emsync.telemetry.retention import (
    Month,
    expired_months,
    months_to_create,
    retention_cutoff,
)

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_months_roll_over_the_year() -> None:
    assert Month(2026, 12).plus(1) == Month(2027, 1)
    assert Month(2027, 1).plus(-1) == Month(2026, 12)
    assert Month(2026, 12).end == datetime(2027, 1, 1, tzinfo=UTC)


def test_partition_names_round_trip() -> None:
    month = Month(2027, 3)
    assert month.partition == "telemetry_readings_y2027m03"
    assert Month.from_partition(month.partition) == month
    assert Month.from_partition("telemetry_readings_default") is None


def test_this_month_and_the_months_ahead_are_created() -> None:
    assert months_to_create(NOW, 2) == [Month(2026, 12), Month(2027, 1), Month(2027, 2)]


def test_a_month_expires_only_when_all_of_it_is_past_the_retention() -> None:
    months = [Month(2026, 8), Month(2026, 9), Month(2026, 10)]
    cutoff = retention_cutoff(NOW, 60)  # 2026-10-07
    assert cutoff == NOW - timedelta(days=60)
    # September ends 2026-10-01, before the cutoff; October still holds readings younger than it.
    assert expired_months(months, cutoff) == [Month(2026, 8), Month(2026, 9)]


def test_without_a_retention_period_nothing_expires() -> None:
    assert retention_cutoff(NOW, None) is None
    assert expired_months([Month(2000, 1)], None) == []


def test_month_of_a_local_time_is_its_utc_month() -> None:
    from zoneinfo import ZoneInfo

    late = datetime(2026, 12, 1, 1, 30, tzinfo=ZoneInfo("Europe/Helsinki"))  # 23:30 UTC Nov 30
    assert Month.of(late) == Month(2026, 11)
