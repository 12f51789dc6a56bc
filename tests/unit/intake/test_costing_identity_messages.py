"""Billing, identity checks, messages, device status and allergy conflicts: the pure cores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from emsync.intake.agents import chart_rules, costing, device_status, identity_checks, messages
from emsync.registry.allergies import RecordedAllergy
from emsync.registry.clinical import drug_classes

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
T = costing.tables()


def test_an_adult_ed_visit_with_public_cover_pays_the_client_fee() -> None:
    e = costing.estimate(T, age=40, admitted=False, follow_up=False, insurance=[{"payer": "Kela"}])
    assert [(line.code, line.amount) for line in e.lines] == [("ed_visit", Decimal("28.30"))]
    assert (e.payer.kind, e.patient_share, e.flags) == ("public", Decimal("28.30"), ())


def test_a_child_pays_no_ed_or_specialist_fee() -> None:
    e = costing.estimate(T, age=9, admitted=False, follow_up=True, insurance=[{"payer": "Kela"}])
    assert e.total == Decimal("0.00")
    assert all(line.note for line in e.lines)


def test_admission_replaces_the_ed_fee_with_the_daily_fee() -> None:
    e = costing.estimate(T, age=40, admitted=True, follow_up=True, insurance=[{"payer": "Kela"}])
    assert [line.code for line in e.lines] == ["inpatient_day", "outpatient_visit"]
    assert e.total == Decimal("90.10")


def test_private_insurance_without_member_id_is_flagged_not_refused() -> None:
    e = costing.estimate(
        T, age=40, admitted=False, follow_up=False, insurance=[{"payer": "Acme Mutual"}]
    )
    assert e.payer.kind == "private"
    assert e.patient_share is None
    assert "insurance member_id missing" in e.flags
    assert costing.as_json(e, T.currency)["blocking"] is False


def test_no_insurance_is_self_pay_with_a_flag() -> None:
    e = costing.estimate(T, age=None, admitted=False, follow_up=False, insurance=[])
    assert e.payer.kind == "self_pay"
    assert any("age unknown" in f for f in e.flags)
    assert any("no insurance" in f for f in e.flags)


def test_ehic_is_recognised() -> None:
    assert costing.payer_for(T, [{"payer": "EHIC (DE)", "member_id": "x"}])[0].kind == "ehic"


def test_no_name_and_no_identifier_is_an_unknown_patient() -> None:
    check = identity_checks.check({"sex": "male", "estimated_age_years": 40})
    assert check.unknown
    assert "name" in check.missing
    assert check.insurance_missing == ("insurance",)
    assert identity_checks.registration_fields({"sex": "male"}, check)["unknown"] is True


def test_a_named_person_lists_what_to_ask() -> None:
    check = identity_checks.check({"given_name": "Aino", "insurance": [{"payer": "Kela"}]})
    assert not check.unknown
    assert check.missing == ("date of birth", "national id", "phone", "emergency contact")
    assert check.insurance_missing == ("insurance member_id",)


def test_invalid_identity_falls_back_to_a_plain_unknown_patient() -> None:
    fields = identity_checks.unknown_fields(
        {"sex": "robot", "estimated_age_years": 900, "given_name": "x" * 999}
    )
    assert fields == {"unknown": True, "description": "registered at arrival; identity to check"}


def test_the_family_hears_in_finnish_when_the_patient_speaks_it() -> None:
    assert messages.language_for("fi-FI", ("en", "fi")) == "fi"
    assert messages.language_for("sv", ("en", "fi")) == "en"
    assert messages.language_for(None, ("en", "fi")) == "en"
    msg = messages.family_message("fi", name="Aino", hospital="Meilahti")
    assert "Aino" in msg["title"]
    assert "päivystykseen" in msg["body"]


def test_contacts_without_a_phone_are_reported_not_dropped() -> None:
    ok, skipped = messages.reachable(
        [{"name": "A", "phone": "040 111 2233"}, {"name": "B"}, {"name": "C", "phone": "12"}],
        "FI",
    )
    assert [(c.name, c.phone) for c in ok] == [("A", "+358401112233")]
    assert skipped == ["contact 1: no phone", "contact 2: not a valid phone number"]
    assert messages.region_of({"address": {"country": "SE"}}, "FI") == "SE"
    assert messages.region_of({}, "GB-ENG") == "GB"


def test_staff_notice_carries_acuity_bed_and_flags() -> None:
    msg = messages.staff_message(level=2, bed="R1", legal=True, conflicts=1)
    assert msg["title"] == "ED arrival: KTAS 2"
    assert "bed R1" in msg["body"]
    assert "legal case" in msg["body"]
    assert "1 allergy" in msg["body"]


def test_device_connectivity_and_battery() -> None:
    assert device_status.connectivity(None, NOW) == "never"
    assert device_status.connectivity(NOW - timedelta(seconds=30), NOW) == "online"
    assert device_status.connectivity(NOW - timedelta(minutes=10), NOW) == "stale"
    assert device_status.connectivity(NOW - timedelta(hours=1), NOW) == "offline"
    assert device_status.battery({"battery": 8}) == (8.0, "critical")
    assert device_status.battery({"battery": 15}) == (15.0, "low")
    assert device_status.battery({}) == (None, "unknown")


def test_a_lead_off_is_shown_flagged_and_news2_takes_the_last_real_heart_rate() -> None:
    normal = {"hr": 72, "rr": 14, "spo2": 97, "sbp": 124, "temp": 36.8}
    readings: list[tuple[datetime, dict[str, Any]]] = [
        (NOW - timedelta(minutes=1), normal),
        (NOW, {**normal, "hr": 0, "artefacts": [{"field": "hr", "kind": "lead_off"}]}),
    ]
    values, _ = device_status.latest_values(readings)
    assert values["hr"] == 0  # shown as measured...
    assert device_status.artefacts_of(readings) == {"hr": "lead_off"}  # ...and flagged
    score = device_status.news2_of(device_status.scoring_values(readings))
    assert score is not None
    assert score["total"] == 0  # 72, not the lead off's 0 (3 points)
    back = [*readings, (NOW + timedelta(seconds=5), {"hr": 75})]
    assert device_status.artefacts_of(back) == {}  # a real value clears the flag


def test_latest_values_and_news2_from_device_readings() -> None:
    readings: list[tuple[datetime, dict[str, Any]]] = [
        (NOW - timedelta(minutes=2), {"hr": 80, "rr": 18, "spo2": 97, "sbp": 120, "temp": 37.0}),
        (NOW, {"hr": 131, "o2": True, "avpu": "V"}),
    ]
    values, at = device_status.latest_values(readings)
    assert at == NOW
    assert values["hr"] == 131
    assert values["consciousness"] == "V"
    # rr 18 -> 0, spo2 97 -> 0, oxygen 2, sbp 120 -> 0, hr 131 -> 3, V -> 3, temp 37 -> 0
    assert device_status.news2_of(values) == {"total": 8, "band": "high"}
    assert device_status.news2_of({"hr": 80}) is None


def test_a_penicillin_allergy_flags_amoxicillin_by_class() -> None:
    allergy = RecordedAllergy("a1", "Penicillin", "severe")
    [flag] = chart_rules.flag_conflicts(
        [allergy], current=[], planned=["amoxicillin"], table=drug_classes()
    )
    assert flag.as_json()["match"] == "class"
    assert flag.origin == "planned"
    assert chart_rules.flag_conflicts([allergy], ["paracetamol"], [], drug_classes()) == []


def test_a_conflict_is_flagged_once_even_if_current_and_planned() -> None:
    allergy = RecordedAllergy("a1", "ibuprofen", None)
    flags = chart_rules.flag_conflicts([allergy], ["Ibuprofen"], ["ibuprofen"], drug_classes())
    assert [(f.origin, f.conflict.match) for f in flags] == [("current", "substance")]


def test_allergies_the_crew_reported_are_checked_too() -> None:
    found = chart_rules.reported(["Penicillin - rash", "NKDA", "latex (gloves)"])
    assert [(a.id, a.substance) for a in found] == [
        ("handoff:0", "Penicillin"),
        ("handoff:2", "latex"),
    ]
    [flag] = chart_rules.flag_conflicts(found, [], ["amoxicillin"], drug_classes())
    assert flag.as_json()["allergy_id"] == "handoff:0"
