"""Bed board and calendar rules: zone by acuity, the board's moves, slots cut from a window,
the follow-up table, the slot offered, and .ics that a calendar parser reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from emsync.intake.records import beds, calendar
from emsync.intake.records.beds import BedView

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def board() -> list[BedView]:
    return [
        BedView("m2", "majors", "M2", "available", False),
        BedView("r1", "resus", "R1", "occupied", True),
        BedView("r2", "resus", "R2", "available", False),
        BedView("r3", "resus", "R3", "available", True),
        BedView("n1", "minors", "N1", "available", False),
        BedView("p1", "paediatric", "P1", "available", False),
        BedView("m1", "majors", "M1", "cleaning", False),
    ]


def test_a_critical_patient_gets_a_monitored_resus_bed_first() -> None:
    choice = beds.choose_beds(board(), acuity=1, age=50)
    assert [b.id for b in choice.candidates] == ["r3", "r2", "m2"]


def test_a_minor_complaint_goes_to_minors_then_majors() -> None:
    assert [b.id for b in beds.choose_beds(board(), acuity=5, age=30).candidates] == ["n1", "m2"]


def test_children_go_to_the_paediatric_zone_unless_critical() -> None:
    assert beds.choose_beds(board(), acuity=3, age=6).candidates[0].id == "p1"
    assert beds.choose_beds(board(), acuity=2, age=6).candidates[0].zone == "resus"


def test_no_free_bed_says_where_it_looked() -> None:
    full = [BedView("x", "minors", "X", "cleaning", False)]
    choice = beds.choose_beds(full, acuity=4, age=30)
    assert choice.candidates == ()
    assert "minors" in choice.reason


def test_no_acuity_yet_is_treated_as_majors() -> None:
    assert beds.zones_for(None, 40) == beds.ZONES_BY_ACUITY[3]


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("cleaning", "available", True),
        ("occupied", "cleaning", True),
        ("cleaning", "occupied", False),
        ("closed", "occupied", False),
        ("available", "closed", True),
    ],
)
def test_the_board_moves(current: str, new: str, allowed: bool) -> None:
    assert beds.can_move(current, new) is allowed


def test_a_window_is_cut_into_whole_slots() -> None:
    slots = calendar.cut_slots(NOW, NOW + timedelta(minutes=70), 20)
    assert [(s.starts_at - NOW).seconds // 60 for s in slots] == [0, 20, 40]
    assert slots[-1].ends_at == NOW + timedelta(minutes=60)


@pytest.mark.parametrize("minutes", [0, -5])
def test_a_slot_length_must_be_positive(minutes: int) -> None:
    with pytest.raises(ValueError):
        calendar.cut_slots(NOW, NOW + timedelta(hours=1), minutes)


def test_an_absurd_window_is_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        calendar.cut_slots(NOW, NOW + timedelta(days=30), 5)


def test_the_follow_up_table_reads_the_complaint() -> None:
    assert calendar.follow_up_for(["stab wound to the abdomen"]).specialty == "surgery"
    assert calendar.follow_up_for(["chest pain on exertion"]).specialty == "cardiology"
    assert calendar.follow_up_for(["feeling unwell"]).specialty == "general_practice"
    asked = calendar.FollowUp("dermatology", 30, "specialist", "asked")
    assert calendar.follow_up_for(["stab wound"], asked) is asked


def slot(i: str, days: float, specialty: str = "surgery") -> calendar.OpenSlot:
    start = NOW + timedelta(days=days)
    return calendar.OpenSlot(
        i, "c", "Dr A", specialty, "follow_up", start, start + timedelta(minutes=20), None
    )


def test_the_earliest_slot_within_the_window_is_offered_first() -> None:
    need = calendar.FollowUp("surgery", 10, "follow_up", "r")
    offered = calendar.offer(
        [
            slot("late", 20),
            slot("b", 5),
            slot("a", 2),
            slot("x", 1, "cardiology"),
            slot("past", -1),
        ],
        need=need,
        now=NOW,
    )
    assert [s.id for s in offered] == ["a", "b"]


def test_a_later_slot_is_offered_when_none_fits_the_window() -> None:
    need = calendar.FollowUp("surgery", 3, "follow_up", "r")
    assert [s.id for s in calendar.offer([slot("late", 20)], need=need, now=NOW)] == ["late"]


def test_ics_export_parses_back_with_the_appointment() -> None:
    appt = calendar.Appointment(
        "b1",
        NOW,
        NOW + timedelta(minutes=20),
        "Surgery, wound check; ok",
        "Dr Ada",
        "Clinic 3",
        NOW,
    )
    parsed = Calendar.from_ical(calendar.to_ics([appt]))
    [event] = parsed.walk("VEVENT")
    assert str(event["uid"]) == "b1@emsync"
    assert event.decoded("dtstart") == NOW
    assert str(event["summary"]) == "Surgery, wound check; ok"
    assert str(event["status"]) == "CONFIRMED"
