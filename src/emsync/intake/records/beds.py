"""The ED bed board's rules, pure: the states a bed moves between, and which free bed a patient
gets (zone by acuity, children to the paediatric zone first).

KTAS levels 1-2 need a monitored resuscitation or majors bed; 3 majors; 4-5 minors, overflowing
into majors. A zone the hospital does not have is skipped, so a small ED with one zone works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

STATUSES = ("available", "occupied", "cleaning", "closed")

# The board's state machine: (from, to) pairs a person or the admission agent may make.
MOVES: frozenset[tuple[str, str]] = frozenset(
    {
        ("available", "occupied"),  # assigned
        ("occupied", "cleaning"),  # patient left
        ("cleaning", "available"),  # cleaned
        ("available", "closed"),
        ("cleaning", "closed"),
        ("closed", "cleaning"),
        ("closed", "available"),
    }
)

ZONES_BY_ACUITY: dict[int, tuple[str, ...]] = {
    1: ("resus", "majors"),
    2: ("resus", "majors"),
    3: ("majors", "resus", "minors"),
    4: ("minors", "majors"),
    5: ("minors", "majors"),
}
PAEDIATRIC_ZONE = "paediatric"
CHILD_BELOW_YEARS = 16
RULE = "bed-by-acuity"
VERSION = "1"


@dataclass(frozen=True, slots=True)
class BedView:
    id: str
    zone: str
    label: str
    status: str
    monitored: bool


@dataclass(frozen=True, slots=True)
class BedChoice:
    """Beds to try in order (the first may be taken meanwhile) and why."""

    candidates: tuple[BedView, ...]
    zones: tuple[str, ...]
    reason: str


def can_move(current: str, new: str) -> bool:
    return (current, new) in MOVES


def zones_for(acuity: int | None, age: float | None) -> tuple[str, ...]:
    """Zones in order of preference; no acuity yet is treated as level 3 (majors)."""
    zones = ZONES_BY_ACUITY.get(acuity if acuity is not None else 3, ZONES_BY_ACUITY[3])
    if age is not None and age < CHILD_BELOW_YEARS:
        # A critically ill child still goes to resus first; otherwise the paediatric zone.
        return (
            ("resus", PAEDIATRIC_ZONE, *zones[1:])
            if acuity in (1, 2)
            else (PAEDIATRIC_ZONE, *zones)
        )
    return zones


def choose_beds(beds: Sequence[BedView], *, acuity: int | None, age: float | None) -> BedChoice:
    """Available beds in the preferred zones, in order: zone preference, monitored beds first
    for levels 1-2, then label. Empty when none is free (the patient waits; a person sees it)."""
    zones = zones_for(acuity, age)
    urgent = acuity in (1, 2)
    free = [b for b in beds if b.status == "available" and b.zone in zones]
    free.sort(key=lambda b: (zones.index(b.zone), not (urgent and b.monitored), b.label))
    if free:
        reason = f"KTAS {acuity if acuity is not None else '?'}: zones {', '.join(zones)}"
    else:
        reason = f"no available bed in {', '.join(zones)}"
    return BedChoice(tuple(free), zones, reason)
