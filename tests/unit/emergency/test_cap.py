"""CAP 1.2 building and checks without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from emsync.emergency import cap

NOW = datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=UTC)
RING = ((60.1, 24.9), (60.2, 24.9), (60.2, 25.0), (60.1, 24.9))


def _message(**info: object) -> cap.CapMessage:
    fields: dict[str, object] = {
        "categories": ("Met",), "event": "Flood", "urgency": "Immediate", "severity": "Severe",
        "certainty": "Observed", "areas": (cap.Area("Shore", polygons=(RING,)),), **info,
    }  # fmt: skip
    return cap.CapMessage(
        identifier="ems-1", sender="ems@example.org", sent=NOW, status="Actual",
        msg_type="Alert", info=(cap.Info(**fields),),  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_sound_message_passes_the_rules_and_the_oasis_xsd() -> None:
    msg = _message(expires=NOW + timedelta(hours=3), response_types=("Evacuate",))
    assert cap.check_message(msg) == []
    xml = cap.to_xml(msg)
    assert cap.xsd_problems(xml) == []
    assert b"<sent>2026-12-06T08:30:15+00:00</sent>" in xml  # no fraction, an explicit offset


def test_each_rule_names_its_field() -> None:
    cases = {
        "info[0].area[0].polygon[0]": _message(areas=(cap.Area("x", polygons=(RING[:3],)),)),
        "info[0].area[0].circle[0]": _message(
            areas=(cap.Area("x", circles=(cap.Circle(1, 1, 0),)),)
        ),
        "info[0].expires": _message(expires=NOW - timedelta(seconds=1)),
        "info[0].category": _message(categories=()),
        "info[0].severity": _message(severity="Catastrophic"),
    }
    for field, msg in cases.items():
        assert [p.field for p in cap.check_message(msg)] == [field], field
    unclosed = _message(areas=(cap.Area("x", polygons=((*RING[:3], (60.3, 25.1)),)),))
    assert "end on its first point" in cap.check_message(unclosed)[0].message
    assert [p.field for p in cap.check_message(replace(_message(), msg_type="Cancel"))] == [
        "references"
    ]
    assert [p.field for p in cap.check_message(replace(_message(), identifier="a b"))] == [
        "identifier"
    ]


def test_xsd_failures_name_the_element_and_line() -> None:
    xml = cap.to_xml(_message()).replace(b"<urgency>Immediate", b"<urgency>Soon")
    problems = cap.xsd_problems(xml)
    assert [p.field for p in problems] == ["info.urgency"]
    assert problems[0].message.startswith("line ")
    assert cap.xsd_problems(b"<alert")[0].field == "xml"


def test_reading_a_received_alert_gives_its_areas() -> None:
    msg = _message(
        headline="Flood",
        areas=(cap.Area("Shore", polygons=(RING,), circles=(cap.Circle(60.1, 24.9, 2),)),),
    )
    read = cap.read_alert(cap.parse_xml(cap.to_xml(msg)))
    assert (read.identifier, read.event, read.severity, read.headline) == (
        "ems-1",
        "Flood",
        "Severe",
        "Flood",
    )
    shapes = cap.area_geometry(read.areas[0])
    assert shapes[0]["coordinates"] == [[[24.9, 60.1], [24.9, 60.2], [25.0, 60.2], [24.9, 60.1]]]
    assert shapes[1] == {"type": "Point", "coordinates": [24.9, 60.1], "radius_km": 2.0}


def test_entities_are_not_expanded() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    assert b"root:" not in cap.parse_xml(evil).text.encode() if cap.parse_xml(evil).text else True
