"""Clinicians' calendars, pure: availability cut into slots, which follow-up an arrival needs
(a table of complaint words), the slot offered, and appointments as RFC 5545 iCalendar.

`icalendar` writes the .ics (escaping, folding, UTC times): hand-writing RFC 5545 is where
calendar exports usually break.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_SLOTS_PER_WINDOW = 500
FOLLOW_UP_RULE = "follow-up-by-complaint"
FOLLOW_UP_VERSION = "1"

# (words in the complaint or diagnosis, specialty, within days): first match wins. A clinician
# may always ask for another specialty or date in the session's input (`follow_up`).
FOLLOW_UP_TABLE: tuple[tuple[tuple[str, ...], str, int], ...] = (
    (("stab", "knife", "laceration", "wound", "gunshot"), "surgery", 10),
    (("fracture", "sprain", "dislocation", "fall"), "orthopaedics", 7),
    (("chest pain", "palpitations", "syncope", "arrhythmia"), "cardiology", 14),
    (("seizure", "stroke", "tia", "headache"), "neurology", 14),
    (("asthma", "copd", "shortness of breath", "dyspnoea"), "respiratory", 14),
    (("pregnan", "bleeding in pregnancy"), "obstetrics", 3),
)
DEFAULT_FOLLOW_UP = ("general_practice", 14)


@dataclass(frozen=True, slots=True)
class SlotTime:
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class FollowUp:
    specialty: str
    within_days: int
    kind: str  # follow_up | specialist
    reason: str


@dataclass(frozen=True, slots=True)
class OpenSlot:
    id: str
    clinician_id: str
    clinician_name: str
    specialty: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    location: str | None


def cut_slots(start: datetime, end: datetime, minutes: int) -> list[SlotTime]:
    """Whole slots of `minutes` from `start` that end by `end` (a shorter remainder is dropped)."""
    if minutes <= 0:
        raise ValueError("slot length must be positive")
    if end <= start:
        raise ValueError("the window must end after it starts")
    step = timedelta(minutes=minutes)
    count = int((end - start) / step)
    if count > MAX_SLOTS_PER_WINDOW:
        raise ValueError(f"{count} slots in one window; at most {MAX_SLOTS_PER_WINDOW}")
    return [SlotTime(start + i * step, start + (i + 1) * step) for i in range(count)]


def follow_up_for(texts: Iterable[str], requested: FollowUp | None = None) -> FollowUp:
    """The follow-up a clinician asked for, else the first row of FOLLOW_UP_TABLE whose words
    occur in the complaint or diagnosis, else general practice."""
    if requested is not None:
        return requested
    text = " ".join(texts).lower()
    for words, specialty, days in FOLLOW_UP_TABLE:
        hit = next((w for w in words if w in text), None)
        if hit is not None:
            return FollowUp(specialty, days, "follow_up", f"complaint mentions {hit!r}")
    specialty, days = DEFAULT_FOLLOW_UP
    return FollowUp(specialty, days, "follow_up", "no specialty rule matched")


def offer(slots: Sequence[OpenSlot], *, need: FollowUp, now: datetime) -> list[OpenSlot]:
    """Free slots of the specialty starting after now and within the window, earliest first;
    when none is within it, the earliest later ones (a late follow-up beats none)."""
    fitting = sorted(
        (s for s in slots if s.specialty == need.specialty and s.starts_at > now),
        key=lambda s: (s.starts_at, s.clinician_name, s.id),
    )
    deadline = now + timedelta(days=need.within_days)
    within = [s for s in fitting if s.starts_at <= deadline]
    return within or fitting


@dataclass(frozen=True, slots=True)
class Appointment:
    booking_id: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    clinician_name: str
    location: str | None
    booked_at: datetime
    cancelled: bool = False


def to_ics(appointments: Sequence[Appointment], *, product: str = "-//EMsync//Intake//EN") -> bytes:
    """An iCalendar file of the appointments (no patient name: the summary names the clinic)."""
    # icalendar (~0.1 s of CPU to import) on the first export, not in every API process.
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", product)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    for a in appointments:
        event = Event()
        event.add("uid", f"{a.booking_id}@emsync")
        event.add("dtstamp", a.booked_at)
        event.add("dtstart", a.starts_at)
        event.add("dtend", a.ends_at)
        event.add("summary", a.summary)
        event.add("description", f"With {a.clinician_name}")
        if a.location:
            event.add("location", a.location)
        event.add("status", "CANCELLED" if a.cancelled else "CONFIRMED")
        cal.add_component(event)
    return bytes(cal.to_ical())
