"""Destination recommendation: which hospital should receive this patient, and why (pure).

Rules, in the order they apply:

1. A hospital without an emergency department, off the road map or unreachable is excluded.
2. The patient's condition needs a capability (suspected stroke → stroke centre, STEMI → PCI,
   major trauma → trauma centre level 1-2, burns → burns unit, under 16 → paediatrics). A
   hospital without it is excluded — unless no reachable hospital has it, when the nearest
   emergency departments are ranked and the reason says the capability is missing.
3. Among those that qualify: open with free beds (or beds not reported) first, then open but
   full, then on diversion. A hospital on diversion is first only when no other can take the
   patient, and its reason says so.
4. Within a tier, by road ETA; ties by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PAEDIATRIC_UNDER_YEARS",
    "Capability",
    "Condition",
    "DestinationRanking",
    "HospitalCandidate",
    "RankedHospital",
    "capabilities_of",
    "conditions_from_complaint",
    "rank_destinations",
    "required_capabilities",
]

PAEDIATRIC_UNDER_YEARS = 16
TRAUMA_CENTRE_LEVELS = frozenset({1, 2})
ANY_TRAUMA_LEVELS = frozenset({1, 2, 3, 4})


class Capability(StrEnum):
    TRAUMA_CENTRE = "trauma_centre"
    TRAUMA_CENTRE_ANY = "trauma_centre_any"
    STROKE_CENTRE = "stroke_centre"
    PCI = "pci"
    BURNS = "burns"
    PAEDIATRICS = "paediatrics"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Capability.TRAUMA_CENTRE: "trauma centre (level 1-2)",
    Capability.TRAUMA_CENTRE_ANY: "trauma centre (any level)",
    Capability.STROKE_CENTRE: "stroke centre",
    Capability.PCI: "PCI (STEMI) lab",
    Capability.BURNS: "burns unit",
    Capability.PAEDIATRICS: "paediatric emergency care",
}


class Condition(StrEnum):
    STROKE = "stroke"
    STEMI = "stemi"
    MAJOR_TRAUMA = "major_trauma"
    TRAUMA = "trauma"  # field triage's yellow criteria: a trauma centre of any level
    BURNS = "burns"


CONDITION_NEEDS: dict[Condition, Capability] = {
    Condition.STROKE: Capability.STROKE_CENTRE,
    Condition.STEMI: Capability.PCI,
    Condition.MAJOR_TRAUMA: Capability.TRAUMA_CENTRE,
    Condition.TRAUMA: Capability.TRAUMA_CENTRE_ANY,
    Condition.BURNS: Capability.BURNS,
}

# Phrases a call-taker writes for each suspected condition. Plain chest pain is not STEMI: that
# needs an ECG, so it goes to the nearest ED unless someone says "STEMI".
_PHRASES: dict[Condition, tuple[str, ...]] = {
    Condition.STROKE: (
        r"stroke",
        r"cva",
        r"tia",
        r"fast positive",
        r"facial droop",
        r"slurred speech",
        r"aphasia",
        r"hemiparesis",
        r"one[- ]sided weakness",
    ),
    Condition.STEMI: (
        r"stemi",
        r"st[- ]elevation",
        r"myocardial infarction",
        r"heart attack",
        r"acute coronary",
    ),
    # Named outright; the mechanism and the injuries are read by the field-triage rules
    # (needs.py), which tell red (level 1-2) from yellow (any trauma centre).
    Condition.MAJOR_TRAUMA: (r"major trauma", r"polytrauma", r"multiple (?:serious )?injuries"),
    Condition.BURNS: (r"burns?", r"burned", r"burnt", r"scald(?:ed|s)?"),
}
_PATTERNS = {
    condition: re.compile(r"\b(?:" + "|".join(phrases) + r")\b", re.IGNORECASE)
    for condition, phrases in _PHRASES.items()
}


def conditions_from_complaint(text: str) -> frozenset[Condition]:
    """Suspected conditions named in a chief complaint."""
    return frozenset(c for c, pattern in _PATTERNS.items() if pattern.search(text))


def required_capabilities(
    conditions: Iterable[Condition], age_years: int | None = None
) -> frozenset[Capability]:
    needs = {CONDITION_NEEDS[c] for c in conditions}
    if age_years is not None and age_years < PAEDIATRIC_UNDER_YEARS:
        needs.add(Capability.PAEDIATRICS)
    return frozenset(needs)


def capabilities_of(
    *,
    trauma_level: int | None,
    stroke_centre: bool,
    pci: bool,
    burns: bool,
    paediatrics: bool,
) -> frozenset[Capability]:
    caps = {
        cap
        for cap, has in (
            (Capability.STROKE_CENTRE, stroke_centre),
            (Capability.PCI, pci),
            (Capability.BURNS, burns),
            (Capability.PAEDIATRICS, paediatrics),
        )
        if has
    }
    if trauma_level in TRAUMA_CENTRE_LEVELS:
        caps.add(Capability.TRAUMA_CENTRE)
    if trauma_level in ANY_TRAUMA_LEVELS:
        caps.add(Capability.TRAUMA_CENTRE_ANY)
    return frozenset(caps)


@dataclass(frozen=True, slots=True)
class HospitalCandidate:
    hospital_id: str
    name: str
    eta_s: float  # inf when the road graph cannot reach it
    capabilities: frozenset[Capability]
    emergency_department: bool | None = None  # None: the map does not say
    ed_beds_available: int | None = None  # None: not reported
    diversion: bool = False
    location_problem: str | None = None


@dataclass(frozen=True, slots=True)
class RankedHospital:
    hospital_id: str
    name: str
    eta_s: float | None
    rank: int | None  # None when excluded
    reason: str
    diversion: bool
    missing: tuple[Capability, ...]


@dataclass(frozen=True, slots=True)
class DestinationRanking:
    required: frozenset[Capability]
    ranked: tuple[RankedHospital, ...]
    excluded: tuple[RankedHospital, ...]

    @property
    def best(self) -> RankedHospital | None:
        return self.ranked[0] if self.ranked else None


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _labels(caps: Iterable[Capability]) -> str:
    return ", ".join(c.label for c in sorted(caps))


def _tier(h: HospitalCandidate) -> int:
    if h.diversion:
        return 2
    return 1 if h.ed_beds_available == 0 else 0


def rank_destinations(
    candidates: Sequence[HospitalCandidate], required: frozenset[Capability]
) -> DestinationRanking:
    """Rank hospitals for a patient who needs `required`, with a reason for every hospital."""
    excluded: list[RankedHospital] = []
    reachable: list[HospitalCandidate] = []
    for h in candidates:
        missing = tuple(sorted(required - h.capabilities))
        if h.emergency_department is False:
            why = "no emergency department"
        elif h.location_problem is not None:
            why = h.location_problem
        elif not math.isfinite(h.eta_s):
            why = "unreachable on the road graph"
        else:
            reachable.append(h)
            continue
        eta = h.eta_s if math.isfinite(h.eta_s) and h.location_problem is None else None
        excluded.append(RankedHospital(h.hospital_id, h.name, eta, None, why, h.diversion, missing))
    capable = [h for h in reachable if required <= h.capabilities]
    lacking = [h for h in reachable if not required <= h.capabilities]
    fallback = not capable and bool(lacking)
    if fallback:
        capable, lacking = lacking, []
    for h in lacking:
        missing = tuple(sorted(required - h.capabilities))
        excluded.append(
            RankedHospital(
                h.hospital_id,
                h.name,
                h.eta_s,
                None,
                f"no {_labels(missing)}",
                h.diversion,
                missing,
            )
        )
    capable.sort(key=lambda h: (_tier(h), h.eta_s, h.name, h.hospital_id))
    open_count = sum(1 for h in capable if not h.diversion)
    what = _labels(required) if required and not fallback else "emergency department"
    ranked: list[RankedHospital] = []
    for n, h in enumerate(capable, start=1):
        missing = tuple(sorted(required - h.capabilities))
        parts = [f"{what}, {_duration(h.eta_s)} by road"]
        if fallback:
            parts.append(f"no reachable hospital has a {_labels(required)}: nearest ED instead")
        if h.diversion:
            if n == 1:
                parts.append("on diversion, but no other reachable hospital can take the patient")
            else:
                parts.append(f"on diversion: ranked after the {open_count} open hospital(s)")
        elif h.ed_beds_available == 0:
            parts.append("ED full (0 beds): ranked after hospitals with free beds")
        elif n == 1:
            parts.append(f"fastest of {len(capable)} that can take the patient")
        if h.ed_beds_available:
            parts.append(f"{h.ed_beds_available} ED beds free")
        ranked.append(
            RankedHospital(
                h.hospital_id, h.name, h.eta_s, n, "; ".join(parts), h.diversion, missing
            )
        )
    excluded.sort(key=lambda r: (r.reason, r.name))
    return DestinationRanking(required, tuple(ranked), tuple(excluded))
