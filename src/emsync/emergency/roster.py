"""Rosters (pure): shift overlap, shift patterns, who is on duty, and whether a unit's crew on
shift is qualified to send it.

Crew rules (record of the choice, the issue leaves them open): an ALS ambulance needs a
paramedic and a driver; a BLS one an EMT (or a paramedic, or a nurse) and a driver; two
people at least, each with the qualification unexpired on the day. A person may hold both a
clinical qualification and the driver's, but one person cannot fill both seats.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class QualificationKind(StrEnum):
    PARAMEDIC = "paramedic"
    EMT = "emt"
    NURSE = "nurse"
    DRIVER = "driver"
    PHYSICIAN = "physician"
    FIREFIGHTER = "firefighter"
    PILOT = "pilot"
    BOAT_OPERATOR = "boat_operator"


Q = QualificationKind
# For each unit type, the seats its crew must fill; a seat accepts any of its kinds.
CREW_SEATS: dict[str, tuple[tuple[str, frozenset[Q]], ...]] = {
    "ALS": (
        ("paramedic", frozenset({Q.PARAMEDIC, Q.PHYSICIAN})),
        ("driver", frozenset({Q.DRIVER})),
    ),
    "BLS": (
        ("EMT", frozenset({Q.EMT, Q.PARAMEDIC, Q.NURSE, Q.PHYSICIAN})),
        ("driver", frozenset({Q.DRIVER})),
    ),
}


@dataclass(frozen=True, slots=True)
class Window:
    starts_at: datetime
    ends_at: datetime

    def overlaps(self, other: Window) -> bool:
        """Half-open [start, end): a shift ending at 07:00 and one starting at 07:00 do not."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


def first_overlap(new: Window, existing: Iterable[tuple[str, Window]]) -> str | None:
    """The id of the first existing shift `new` overlaps, or None."""
    for shift_id, window in existing:
        if new.overlaps(window):
            return shift_id
    return None


def overlaps_within(windows: Sequence[Window]) -> tuple[int, int] | None:
    """Indices of the first two windows of one batch that overlap each other, or None."""
    order = sorted(range(len(windows)), key=lambda i: windows[i].starts_at)
    for a, b in itertools.pairwise(order):
        if windows[a].overlaps(windows[b]):
            return (min(a, b), max(a, b))
    return None


@dataclass(frozen=True, slots=True)
class PatternSlot:
    """One shift of a repeating pattern: on cycle day `day` (0-based), from `start`, `hours`."""

    day: int
    start: time
    hours: float


def expand_pattern(
    slots: Sequence[PatternSlot],
    *,
    cycle_days: int,
    first_day: date,
    days: int,
    tz: ZoneInfo,
) -> list[Window]:
    """The shifts a pattern gives from `first_day` for `days` days (local times in `tz`, so a
    07:00 start stays 07:00 across daylight-saving changes)."""
    if cycle_days < 1:
        raise ValueError("cycle_days must be at least 1")
    out: list[Window] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for slot in slots:
            if offset % cycle_days != slot.day:
                continue
            start = datetime.combine(day, slot.start, tzinfo=tz)
            out.append(Window(start, start + timedelta(hours=slot.hours)))
    return out


@dataclass(frozen=True, slots=True)
class CrewMember:
    person_id: str
    name: str
    qualifications: Mapping[str, date | None]  # kind -> expiry (None: does not expire)

    def holds(self, kind: str, on: date) -> bool:
        if kind not in self.qualifications:
            return False
        expires = self.qualifications[kind]
        return expires is None or expires >= on


def _fill(
    seats: Sequence[tuple[str, frozenset[Q]]], crew: Sequence[CrewMember], on: date
) -> list[str]:
    """Seat names left empty after the best assignment (small: brute force over seats)."""
    best: list[str] = [name for name, _ in seats]

    def place(i: int, used: frozenset[str], empty: list[str]) -> None:
        nonlocal best
        if len(empty) >= len(best):
            return
        if i == len(seats):
            best = empty
            return
        name, kinds = seats[i]
        for member in crew:
            if member.person_id in used:
                continue
            if any(member.holds(k.value, on) for k in kinds):
                place(i + 1, used | {member.person_id}, empty)
        place(i + 1, used, [*empty, name])

    place(0, frozenset(), [])
    return best


def crew_problem(unit_type: str, crew: Sequence[CrewMember], on: date) -> str | None:
    """Why `crew` cannot take a unit of `unit_type` out, or None when it can."""
    seats = CREW_SEATS.get(unit_type)
    if seats is None:
        return None
    if not crew:
        return "no crew on shift"
    missing = _fill(seats, crew, on)
    if not missing:
        return None
    expired = sorted(
        f"{m.name}'s {kind}"
        for m in crew
        for kind, until in m.qualifications.items()
        if until is not None and until < on
    )
    why = f"no qualified crew on shift: needs {' and '.join(missing)}"
    if expired:
        why += f" ({', '.join(expired)} expired)"
    return why
