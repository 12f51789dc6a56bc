"""What the crew records reaches the FHIR export: AVPU, oxygen, doses, notes, allergies, NEWS2,
with no invented times (pure: fhir.bundle over the clinical picture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from emsync.handoffs import fhir, fhir_rules
from emsync.handoffs.fhir_codes import ACT_CODE
from emsync.handoffs.picture import clinical_picture, news2_of
from emsync.handoffs.schemas import AtmistRecord, UpdateRead, VitalSigns

NOW = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def _record(**overrides: Any) -> AtmistRecord:
    body: dict[str, Any] = {
        "patient": {"age_years": 81, "sex": "female"},
        "onset_unknown": True,
        "mechanism": "found on the floor",
        "injuries": ["confused, hypoxic"],
        "signs": [
            {"ts": NOW - timedelta(minutes=7), "hr": 118, "spo2": 89, "rr": 26, "sbp": 104,
             "dbp": 62, "temp": 38.6, "avpu": "V", "o2": True, "o2_device": "non_rebreather_mask",
             "o2_flow": 15},
        ],
        "treatment": [
            {"kind": "medication", "name": "oxygen", "route": "inhaled",
             "at": NOW - timedelta(minutes=9), "response": "SpO2 84 to 89 %"},
            {"kind": "medication", "name": "paracetamol", "dose_value": 1, "dose_unit": "g",
             "route": "IV", "response": "no change yet"},
            {"kind": "procedure", "name": "IV access", "route": "left antecubital"},
        ],
        "allergies": ["penicillin (rash)"],
        "notes": "Lives alone. <b>Allergy</b>: penicillin.",
    }  # fmt: skip
    body.update(overrides)
    return AtmistRecord.model_validate(body)


def _bundle(record: AtmistRecord, updates: list[UpdateRead] | None = None) -> dict[str, Any]:
    out = fhir.bundle(
        fhir.HandoffFacts(
            handoff_id="h-9",
            hospital_id="hosp-1",
            status="sent",
            created_at=NOW,
            eta=NOW + timedelta(minutes=8),
            acuity=2,
            news2=None,
            content=record.model_dump(),
            picture=clinical_picture(record, updates or []).model_dump(),
            incident_id="inc-1",
            patient_id="pat-1",
            unit_id="MEDIC-12",
            crew=["Paramedic Kallio"],
        )
    )
    Bundle.model_validate(out)
    assert fhir_rules.problems(out) == []
    return out


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _by_loinc(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [
        r
        for r in _resources(bundle, "Observation")
        if code in {c["code"] for c in r["code"].get("coding", ())}
    ]


def test_spo2_carries_both_loinc_codes_and_the_oxygen_it_was_measured_on() -> None:
    [spo2] = _by_loinc(_bundle(_record()), "2708-6")
    assert [c["code"] for c in spo2["code"]["coding"]] == ["2708-6", "59408-5"]
    assert spo2["valueQuantity"]["value"] == 89
    [flow] = spo2["component"]
    assert flow["code"]["coding"][0]["code"] == "3151-8"
    assert flow["valueQuantity"] == {
        "value": 15.0, "unit": "L/min", "system": "http://unitsofmeasure.org", "code": "L/min"
    }  # fmt: skip
    assert "Non-rebreather mask" in spo2["note"][0]["text"]


def test_avpu_and_oxygen_are_observations_with_loinc_codes() -> None:
    bundle = _bundle(_record())
    [avpu] = _by_loinc(bundle, "67775-7")
    assert avpu["valueCodeableConcept"]["coding"][0]["code"] == "300202002"  # responds to voice
    assert avpu["valueCodeableConcept"]["text"].startswith("V")
    oxygen = [o for o in _by_loinc(bundle, "3151-8") if o["code"]["text"] == "Supplemental oxygen"]
    assert len(oxygen) == 1
    assert oxygen[0]["valueQuantity"]["value"] == 15.0
    assert oxygen[0]["method"]["text"] == "Supplemental oxygen: Non-rebreather mask"


def test_room_air_is_said_and_oxygen_without_a_flow_is_not_given_one() -> None:
    signs = [
        {"ts": NOW - timedelta(minutes=3), "spo2": 95, "o2": False},
        {"ts": NOW, "spo2": 97, "o2_device": "nasal_cannula"},
    ]
    bundle = _bundle(_record(signs=signs))
    oxygen = _by_loinc(bundle, "3151-8")
    room, nasal = (o for o in oxygen if o["code"]["text"] == "Supplemental oxygen")
    assert room["valueQuantity"]["value"] == 0
    assert room["method"]["coding"][0]["code"] == "722742002"
    assert "valueQuantity" not in nasal
    assert nasal["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    spo2 = _by_loinc(bundle, "2708-6")
    assert "component" not in spo2[0]
    assert spo2[1]["component"][0]["dataAbsentReason"]["coding"][0]["code"] == "unknown"


def test_treatments_keep_dose_route_time_and_response_and_untimed_ones_get_no_time() -> None:
    bundle = _bundle(_record())
    [given] = _resources(bundle, "MedicationAdministration")
    assert given["medicationCodeableConcept"]["text"] == "oxygen"
    assert given["effectiveDateTime"] == "2030-01-01T09:51:00Z"
    assert given["dosage"]["route"]["text"] == "inhaled"
    assert given["note"] == [{"text": "Response: SpO2 84 to 89 %"}]
    [untimed] = _resources(bundle, "MedicationStatement")
    assert untimed["medicationCodeableConcept"]["text"] == "paracetamol"
    assert not any(k.startswith("effective") for k in untimed)
    assert untimed["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 1
    assert untimed["dosage"][0]["doseAndRate"][0]["doseQuantity"]["code"] == "g"
    assert untimed["dosage"][0]["route"]["text"] == "IV"
    assert untimed["note"] == [{"text": "Response: no change yet"}]
    [procedure] = _resources(bundle, "Procedure")
    assert "performedDateTime" not in procedure
    assert procedure["note"] == [{"text": "Route: left antecubital"}]


def test_notes_are_a_composition_section_as_escaped_text_with_update_times() -> None:
    note = UpdateRead(seq=2, kind="note", at=NOW, actor="crew", data={"note": "Daughter en route"})
    bundle = _bundle(_record(), [note])
    [doc] = _resources(bundle, "Composition")
    notes = next(s for s in doc["section"] if s["title"] == "Notes")
    div = notes["text"]["div"]
    assert "Lives alone. &lt;b&gt;Allergy&lt;/b&gt;: penicillin." in div
    assert "<b>" not in div
    assert "2030-01-01T10:00:00Z: Daughter en route" in div
    assert doc["author"][0] == {"display": "Paramedic Kallio"}
    assert doc["author"][1]["identifier"]["value"] == "MEDIC-12"


def test_allergies_are_allergy_intolerances_and_none_known_is_said() -> None:
    [allergy] = _resources(_bundle(_record()), "AllergyIntolerance")
    assert allergy["code"] == {"text": "penicillin (rash)"}
    assert allergy["verificationStatus"]["coding"][0]["code"] == "unconfirmed"
    [none] = _resources(_bundle(_record(allergies=[])), "AllergyIntolerance")
    assert none["code"]["coding"][0]["code"] == "716186003"
    assert _resources(_bundle(_record(allergies=None)), "AllergyIntolerance") == []


def test_encounter_class_uses_the_v3_actcode_canonical() -> None:
    [encounter] = _resources(_bundle(_record()), "Encounter")
    assert (
        encounter["class"]["system"]
        == ACT_CODE
        == ("http://terminology.hl7.org/CodeSystem/v3-ActCode")
    )
    broken = _bundle(_record())
    _resources(broken, "Encounter")[0]["class"]["system"] = "http://terminology.hl7.org/v3-ActCode"
    assert any("v3-ActCode" in p for p in fhir_rules.problems(broken))


def test_news2_is_computed_at_the_newest_set_with_what_it_lacks_from_the_sets_before() -> None:
    older = {"ts": NOW - timedelta(minutes=7), "hr": 118, "spo2": 89, "rr": 26, "sbp": 104,
             "dbp": 62, "temp": 38.6, "avpu": "V", "o2": True}  # fmt: skip
    newer = {"ts": NOW, "hr": 120, "spo2": 86, "source": "telemetry"}  # no rr, BP, temp, AVPU
    picture = clinical_picture(_record(signs=[newer, older]), [])
    assert picture.latest_signs is not None
    assert picture.latest_signs.spo2 == 86  # newest first, whatever the order recorded
    assert picture.news2 is not None
    # rr 26 → 3, SpO2 86 → 3, oxygen → 2, sbp 104 → 1, hr 120 → 2, V → 3, temp 38.6 → 1
    assert picture.news2.total == 15
    assert picture.news2.band == "high"
    assert picture.news2.ts == newer["ts"]
    assert picture.news2.source == "telemetry"
    assert picture.news2.carried == ["rr", "sbp", "temp", "o2", "avpu"]
    assert picture.news2.assumed == []
    # Alone, the monitor's set cannot be scored; 20 minutes later nothing is carried to it.
    assert news2_of(VitalSigns.model_validate(newer)) is None
    late = {**newer, "ts": NOW + timedelta(minutes=20)}
    alone = clinical_picture(_record(signs=[late, older]), [])
    assert alone.news2 is not None
    assert alone.news2.ts == older["ts"]  # the newest set that allows it on its own
    [computed] = [
        o for o in _resources(_bundle(_record(signs=[older])), "Observation")
        if o.get("method", {}).get("text", "").startswith("computed")
    ]  # fmt: skip
    assert computed["valueInteger"] == 15
    assert computed["effectiveDateTime"] == "2030-01-01T09:53:00Z"
    assert len(computed["derivedFrom"]) >= 5


def test_a_set_without_oxygen_or_avpu_says_what_news2_assumed() -> None:
    sign = VitalSigns.model_validate(
        {"ts": NOW, "hr": 80, "spo2": 97, "rr": 14, "sbp": 130, "dbp": 80, "temp": 36.8}
    )
    scored = news2_of(sign)
    assert scored is not None
    assert (scored.total, scored.band, scored.assumed) == (0, "none", ["o2", "avpu"])


def test_an_oxygen_device_says_on_oxygen_and_room_air_with_a_device_is_refused() -> None:
    assert VitalSigns.model_validate({"ts": NOW, "o2_flow": 2}).o2 is True
    with pytest.raises(ValueError, match="room air"):
        VitalSigns.model_validate({"ts": NOW, "o2": False, "o2_device": "nasal_cannula"})
