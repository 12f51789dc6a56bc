"""Pure handoff modules: the lifecycle table, sealing, ATMIST rules, file sniffing, FHIR rules."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from emsync.core.errors import Forbidden, InvalidTransition
from emsync.handoffs import atmist, fhir, fhir_rules, sealing
from emsync.handoffs.attachments import AttachmentKind, check_attachment, sniff
from emsync.handoffs.lifecycle import TRANSITIONS, HandoffStatus, Side, next_status
from emsync.handoffs.picture import clinical_picture
from emsync.handoffs.schemas import AtmistRecord

S = HandoffStatus
NOW = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def test_lifecycle_table_allows_exactly_its_entries() -> None:
    for current in S:
        for target in S:
            for side in Side:
                allowed = side in TRANSITIONS[current].get(target, frozenset())
                if allowed:
                    assert next_status(current, target, side) is target
                else:
                    with pytest.raises((InvalidTransition, Forbidden)):
                        next_status(current, target, side)


def test_main_line_and_final_states() -> None:
    line = [S.DRAFT, S.SENT, S.DELIVERED, S.ACKNOWLEDGED, S.ARRIVED, S.HANDED_OVER]
    sides = [Side.CREW, Side.HOSPITAL, Side.HOSPITAL, Side.CREW, Side.HOSPITAL]
    for (a, b), side in zip(itertools.pairwise(line), sides, strict=True):
        assert next_status(a, b, side) is b
    assert TRANSITIONS[S.HANDED_OVER] == {}
    assert TRANSITIONS[S.CANCELLED] == {}
    with pytest.raises(Forbidden):
        next_status(S.SENT, S.ACKNOWLEDGED, Side.CREW)
    with pytest.raises(InvalidTransition):
        next_status(S.ARRIVED, S.CANCELLED, Side.CREW)


def test_sealing_opens_only_for_the_hospital_and_its_context() -> None:
    north, south = sealing.generate_key_pair(), sealing.generate_key_pair()
    data_key = sealing.new_data_key()
    wrapped = sealing.wrap_data_key(data_key, hospital_public=north.public, context=b"handoff:1")
    assert len(wrapped) == sealing.WRAPPED_BYTES
    assert (
        sealing.unwrap_data_key(wrapped, hospital_private=north.private, context=b"handoff:1")
        == data_key
    )
    with pytest.raises(sealing.SealingError):
        sealing.unwrap_data_key(wrapped, hospital_private=south.private, context=b"handoff:1")
    with pytest.raises(sealing.SealingError):
        sealing.unwrap_data_key(wrapped, hospital_private=north.private, context=b"handoff:2")
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(sealing.SealingError):
        sealing.unwrap_data_key(
            bytes(tampered), hospital_private=north.private, context=b"handoff:1"
        )
    sealed = sealing.seal(data_key, b"ATMIST", aad=b"handoff:1:content")
    assert sealing.open_sealed(data_key, sealed, aad=b"handoff:1:content") == b"ATMIST"
    with pytest.raises(sealing.SealingError):
        sealing.open_sealed(data_key, sealed, aad=b"handoff:1:update:1")


def test_atmist_rules_name_each_missing_field() -> None:
    problems = atmist.missing_for_send({}, acuity=None, eta=None, hospital_id="")
    assert [p.field for p in problems] == [
        "content.patient.age_years",
        "content.time_of_onset",
        "content.mechanism",
        "content.injuries",
        "content.signs",
        "content.treatment",
        "acuity",
        "eta",
        "hospital_id",
    ]
    complete = {
        "patient": {"age_band": "70-80"},
        "onset_unknown": True,
        "mechanism": "fall",
        "injuries": ["hip pain"],
        "signs": [{"ts": NOW, "avpu": "V"}],
        "treatment": [],
    }
    assert atmist.missing_for_send(complete, acuity=3, eta=NOW, hospital_id="h") == []


def test_vital_trends_ignore_noise() -> None:
    signs = [
        {"ts": NOW + timedelta(minutes=5), "hr": 120, "spo2": 95, "temp": 37.0},
        {"ts": NOW, "hr": 100, "spo2": 95, "sbp": 120},
    ]
    trends = atmist.vital_trends(signs)
    assert trends == {
        "hr": atmist.Trend.RISING,
        "spo2": atmist.Trend.STEADY,
        "sbp": atmist.Trend.SINGLE,
        "temp": atmist.Trend.SINGLE,
    }


def test_attachments_are_judged_by_magic_bytes() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
    assert sniff(png) == "image/png"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"<html>") is None
    assert check_attachment(AttachmentKind.PHOTO, png, declared="image/png", max_bytes=100) == (
        "image/png"
    )
    refused = check_attachment(
        AttachmentKind.ECG, b"RIFF\x00\x00\x00\x00WEBP", declared=None, max_bytes=100
    )
    assert isinstance(refused, atmist.FieldProblem)
    too_big = check_attachment(AttachmentKind.PHOTO, png * 10, declared=None, max_bytes=100)
    assert isinstance(too_big, atmist.FieldProblem)


def _facts(**content: Any) -> fhir.HandoffFacts:
    record = AtmistRecord.model_validate(
        {
            "patient": {"name": "A. Patient", "age_years": 70, "sex": "female"},
            "time_of_onset": NOW - timedelta(hours=1),
            "mechanism": "chest pain",
            "injuries": ["ST elevation"],
            "signs": [
                {"ts": NOW, "hr": 110, "spo2": 94, "rr": 20, "sbp": 100, "dbp": 60, "temp": 37.2}
            ],
            "treatment": [
                {"kind": "medication", "name": "aspirin", "dose_value": 300, "dose_unit": "mg"},
                {"kind": "procedure", "name": "IV access"},
            ],
            **content,
        }
    )
    return fhir.HandoffFacts(
        handoff_id="h-1",
        hospital_id="hosp-1",
        status="sent",
        created_at=NOW,
        eta=NOW + timedelta(minutes=10),
        acuity=2,
        news2=6,
        content=record.model_dump(),
        picture=clinical_picture(record, []).model_dump(),
    )


def _observation(bundle: dict[str, Any], loinc: str) -> dict[str, Any]:
    for entry in bundle["entry"]:
        resource: dict[str, Any] = entry["resource"]
        codes = {c["code"] for c in resource.get("code", {}).get("coding", ())}
        if resource["resourceType"] == "Observation" and loinc in codes:
            return resource
    raise AssertionError(loinc)


def test_bundle_is_valid_r4_and_passes_the_extra_rules() -> None:
    bundle = fhir.bundle(_facts())
    Bundle.model_validate(bundle)
    assert fhir_rules.problems(bundle) == []
    bp = _observation(bundle, "85354-9")
    assert {c["code"]["coding"][0]["code"] for c in bp["component"]} == {"8480-6", "8462-4"}
    assert _observation(bundle, "8310-5")["valueQuantity"]["code"] == "Cel"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda b: _observation(b, "8867-4").pop("category"), "vital-signs"),
        (
            lambda b: _observation(b, "8867-4").update(dataAbsentReason={"text": "not measured"}),
            "obs-6",
        ),
        (lambda b: _observation(b, "9279-1")["valueQuantity"].update(code="min"), "'/min'"),
        (lambda b: _observation(b, "59408-5").update(status="done"), "value set"),
        (lambda b: b["entry"][0]["resource"].update(gender="f"), "value set"),
        (lambda b: _observation(b, "85354-9")["component"].pop(), "8462-4"),
    ],
)
def test_rules_catch_what_the_library_lets_through(breakage: Any, expected: str) -> None:
    bundle = copy.deepcopy(fhir.bundle(_facts()))
    breakage(bundle)
    found = fhir_rules.problems(bundle)
    assert any(expected in p for p in found), found
