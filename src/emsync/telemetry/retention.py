"""Monthly time partitions of the readings table and what retention removes (pure).

On PostgreSQL `telemetry_readings` is partitioned by range of `ts`, one partition per calendar
month (UTC) named `telemetry_readings_yYYYYmMM`, plus a default partition for readings outside
every month created so far (a device with a wrong clock). Retention drops whole months: a month
goes once all of it is older than the retention period, so nothing younger is ever removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TABLE = "telemetry_readings"
DEFAULT_PARTITION = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_y(\d{{4}})m(\d{{2}})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, at: datetime) -> Month:
        at = at.astimezone(UTC)
        return cls(at.year, at.month)

    @classmethod
    def from_partition(cls, name: str) -> Month | None:
        match = _NAME.match(name)
        return cls(int(match[1]), int(match[2])) if match else None

    def plus(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.plus(1).start

    @property
    def partition(self) -> str:
        return f"{TABLE}_y{self.year:04d}m{self.month:02d}"


def months_to_create(now: datetime, ahead: int) -> list[Month]:
    """This month and the `ahead` months after it: made before any reading can need them."""
    first = Month.of(now)
    return [first.plus(i) for i in range(ahead + 1)]


def retention_cutoff(now: datetime, retention_days: int | None) -> datetime | None:
    """Readings older than this may be deleted; None keeps everything."""
    return None if retention_days is None else now - timedelta(days=retention_days)


def expired_months(existing: list[Month], cutoff: datetime | None) -> list[Month]:
    """Months lying wholly before the cutoff."""
    if cutoff is None:
        return []
    return sorted(m for m in existing if m.end <= cutoff)
