"""Search queries, hazard parsing, CSV and EDXL-HAVE, without a database or network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from emsync.emergency import csvio, edxl, fts, hazards


def test_terms_fold_case_and_accents_and_quote_operators_away() -> None:
    assert fts.terms("Évacué  ÉVACUÉ shelter*") == ["evacue", "shelter"]
    match = fts.fts5_match([["kallio", "kalli"], ["x"]])
    assert match == '("kallio"* OR "kalli") AND ("x")'
    assert fts.fts5_match([['a"b']]) == '("a""b"*)'
    assert fts.tsquery([["o'neil"]]) == "('o''neil':*)"


def test_typo_budget_and_corrections() -> None:
    assert fts.corrections("blankts", ["blankets", "blanks", "plank"]) == ["blankets", "blanks"]
    assert fts.corrections("cot", ["cat"]) == []  # under 4 letters: no typos
    assert fts.edit_distance("evacuaton", "evacuation", 2) == 1
    assert fts.edit_distance("kallio", "klalio", 1) == 1  # a transposition is one edit


def test_highlight_marks_words_and_keeps_text_as_text() -> None:
    segments = fts.highlight("<b>Kallio</b> shelter", ["kall"])
    assert [(s.text, s.match) for s in segments] == [
        ("<b>", False),
        ("Kallio", True),
        ("</b> shelter", False),
    ]
    long = "x " * 300 + "target here"
    cut = fts.highlight(long, ["target"], limit=40)
    assert cut[0].text == "…"
    assert any(s.match and s.text == "target" for s in cut)


def test_blind_tokens_are_keyed_and_prefixable() -> None:
    words = fts.blind_words("Aino Virtanen")
    assert "virtanen" in words
    assert "virt\u2026" in words
    assert "vi\u2026" not in words
    a, b = fts.blind_token(b"k" * 32, "virtanen"), fts.blind_token(b"j" * 32, "virtanen")
    assert a != b
    assert len(a) == 16
    assert b"virtanen" not in a
    groups = fts.blind_query(b"k" * 32, "virt AI")
    assert len(groups) == 2
    assert len(groups[0]) == 2
    assert len(groups[1]) == 1


def test_geojson_quakes_and_malformed_feeds() -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"id": "q1", "geometry": {"type": "Point", "coordinates": [1, 2]},
         "properties": {"mag": 7.2, "place": "Sea", "time": 0}},
    ]}  # fmt: skip
    (item,) = hazards.parse_geojson(json.dumps(doc).encode())
    assert (item.external_id, item.title, item.severity) == ("q1", "M 7.2 - Sea", "Extreme")
    assert item.at == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="FeatureCollection"):
        hazards.parse_geojson(b'{"type": "Feature"}')
    with pytest.raises(ValueError, match="not JSON"):
        hazards.parse_geojson(b"{")
    with pytest.raises(ValueError, match="neither a CAP alert"):
        hazards.parse_cap_document(b"<rss/>")


def _no_problems(row: dict[str, Any]) -> list[tuple[str, str]]:
    return []


def test_csv_parse_and_write() -> None:
    rows, errors = csvio.parse(
        "shelters",
        b"name;lat;lon;capacity_beds;amenities\nA;60,1;24,9;10;wifi; showers\n",
        _no_problems,
    )
    # ';' inside an unquoted ';'-separated cell splits it: the row has a cell too many.
    assert [(e.row, e.column, e.message) for e in errors] == [(2, None, "6 cells, header has 5")]
    rows, errors = csvio.parse(
        "shelters",
        b'name,lat,lon,capacity_beds,amenities\nA,60.1,24.9,10,"wifi; showers"\n',
        _no_problems,
    )
    assert errors == []
    assert rows == [
        {
            "name": "A",
            "lat": 60.1,
            "lon": 24.9,
            "capacity_beds": 10,
            "amenities": ["wifi", "showers"],
        }
    ]
    _, errors = csvio.parse("shelters", b"name,lat,lon,capacity_beds\nA,x,24.9,1.5\n", _no_problems)
    assert [(e.row, e.column) for e in errors] == [(2, "lat"), (2, "capacity_beds")]
    assert csvio.parse("shelters", b"\xff\xfe", _no_problems)[1][0].message.startswith(
        "the file is not UTF-8"
    )
    out = csvio.write(
        "supplies", [{"sku": "=1+1", "name": "-x", "unit": "each", "min_stock": -1}], bom=True
    )
    assert out.startswith(b"\xef\xbb\xbf")
    assert out.decode("utf-8-sig").splitlines()[1] == "'=1+1,'-x,each,,-1,,"


def test_edxl_round_trip_and_element_tables() -> None:
    h = edxl.HaveHospital(
        org_id="h1",
        name="Meilahti",
        lat=60.1,
        lon=24.9,
        ems_traffic="Closed",
        ems_reason="MCI",
        ed_beds_available=0,
        services=frozenset({"burns", "stroke"}),
        last_update=datetime(2026, 1, 1, tzinfo=UTC),
    )
    (back,) = edxl.parse(edxl.to_xml([h]), strict=True)
    assert back == h
    assert back.diversion
    with pytest.raises(ValueError, match="EMSTrafficStatus"):
        edxl.to_xml([edxl.HaveHospital("h", "n", None, None, "Maybe", None, None)])


def test_edxl_output_follows_the_schema_where_sahana_eden_does_not() -> None:
    """What a check against the EDXL-HAVE 1.0 XSD found (see edxl.py's docstring): GML 3 `pos`,
    bed counts inside `<Capacity>`, `Vacant/Available`, services in the schema's order, no empty
    `HospitalBedCapacityStatus`; Sahana Eden's spellings are still read."""
    every = frozenset(edxl.SERVICES)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    full = edxl.HaveHospital("h1", "A", 60.1, 24.9, "Normal", None, 3, every, at)
    bare = edxl.HaveHospital("h2", "B", None, None, "Normal", None, None, frozenset(), at)
    root = etree.fromstring(edxl.to_xml([full, bare]))
    ns = edxl.NSMAP
    first, second = root.findall("have:Hospital", ns)
    assert first.xpath(".//gml:Point/gml:pos/text()", namespaces=ns) == ["60.100000 24.900000"]
    assert first.xpath(".//gml:coordinates", namespaces=ns) == []
    capacity = "have:HospitalBedCapacityStatus/have:BedCapacity/have:Capacity/have:"
    assert first.xpath(f"{capacity}CapacityStatus/text()", namespaces=ns) == ["Vacant/Available"]
    assert first.xpath(f"{capacity}AvailableCount/text()", namespaces=ns) == ["3"]
    order = [etree.QName(c).localname for c in first.find("have:ServiceCoverageStatus", ns)]
    assert order == ["Burn", "CardiologyIndicator", "EmergencyDepartment", "NeurologyIndicator",
                     "Pediatrics", "TraumaCenterServicesIndicator"]  # fmt: skip
    assert second.find("have:HospitalBedCapacityStatus", ns) is None
    sahana = Path(__file__).resolve().parents[2] / "data/emergency/edxl-have-sahana-eden.xml"
    read = edxl.parse(sahana.read_bytes())
    assert any("trauma" in h.services for h in read)
    assert any(h.lat is not None for h in read)


def test_input_xml_or_csv_cannot_carry_is_refused_or_cleaned() -> None:
    # Found by the schemathesis run: these made 500s before.
    _, errors = csvio.parse("supplies", b"sku,name,unit\nA,\x00b,c\n", _no_problems)
    assert errors[0].message.startswith("the file contains NUL")
    h = edxl.HaveHospital(
        org_id="h\x01", name="Bad\x02Name", lat=None, lon=None, ems_traffic="Normal",
        ems_reason=None, ed_beds_available=None, last_update=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    assert edxl.parse(edxl.to_xml([h]))[0].name == "BadName"
