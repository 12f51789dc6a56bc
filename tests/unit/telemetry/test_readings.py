"""Decoding and plausibility checking of the readings inside an opened envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync.telemetry.envelope import EnvelopeRejected, Kind, Reason
from emsync.telemetry.readings import (
    MAX_BATCH,
    PLAUSIBLE,
    Avpu,
    DeviceStatus,
    FieldProblem,
    FieldRejection,
    Position,
    Vitals,
    parse_readings,
    parse_timestamp,
)
from tests.unit.telemetry.builders import vitals_json

TS = "2025-03-01T12:00:00+01:00"
WHEN = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)


def _vitals(**fields: Any) -> Vitals:
    (reading,) = parse_readings(Kind.VITALS, vitals_json(**fields))
    assert isinstance(reading, Vitals)
    return reading


def _position(**fields: Any) -> Position:
    (reading,) = parse_readings(Kind.POSITION, json.dumps({"ts": TS, **fields}).encode())
    assert isinstance(reading, Position)
    return reading


def _reason(kind: Kind, plaintext: bytes) -> Reason:
    with pytest.raises(EnvelopeRejected) as caught:
        parse_readings(kind, plaintext)
    return caught.value.reason


def test_full_vitals_reading_is_decoded() -> None:
    reading = _vitals(hr=75, spo2=96, rr=16, sbp=120, dbp=80, temp=37.1, o2=False, avpu="A")
    assert reading == Vitals(
        ts=WHEN,
        hr=75,
        spo2=96,
        rr=16,
        sbp=120,
        dbp=80,
        temp=37.1,
        o2=False,
        avpu=Avpu.ALERT,
    )
    assert reading.ts.utcoffset() == timedelta(hours=1)


def test_every_vital_but_ts_is_optional() -> None:
    assert _vitals() == Vitals(ts=WHEN)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hr", -1),
        ("hr", 351),
        ("spo2", 49),
        ("spo2", 101),
        ("rr", -0.5),
        ("rr", 101),
        ("sbp", 19),
        ("sbp", 301),
        ("dbp", 4),
        ("dbp", 201),
        ("temp", 98.6),  # Fahrenheit sent as Celsius
        ("temp", 12.9),
        ("hr", 10**400),
        ("temp", 1e400),  # JSON overflows to infinity
    ],
)
def test_implausible_value_is_dropped_and_the_rest_kept(field: str, value: float) -> None:
    fields: dict[str, Any] = {"hr": 80, "spo2": 95, "rr": 18, "sbp": 130, "dbp": 70, "temp": 37.0}
    fields[field] = value
    raw = json.dumps({"ts": TS, **fields}).encode().replace(b"Infinity", b"1e400")
    (reading,) = parse_readings(Kind.VITALS, raw)
    assert isinstance(reading, Vitals)
    assert getattr(reading, field) is None
    assert reading.rejected == (FieldRejection(field, FieldProblem.OUT_OF_RANGE),)
    kept = {name: getattr(reading, name) for name in fields if name != field}
    assert kept == {name: v for name, v in fields.items() if name != field}


@pytest.mark.parametrize("field", ["hr", "spo2", "rr", "sbp", "dbp", "temp"])
def test_bounds_themselves_are_plausible(field: str) -> None:
    for value in (PLAUSIBLE[field].low, PLAUSIBLE[field].high):
        reading = _vitals(**{field: value})
        assert getattr(reading, field) == value
        assert reading.rejected == ()


def test_asystole_and_apnoea_reach_the_alerting() -> None:
    reading = _vitals(hr=0, rr=0)
    assert (reading.hr, reading.rr, reading.rejected) == (0, 0, ())


@pytest.mark.parametrize(
    ("field", "value"),
    [("hr", True), ("spo2", "96"), ("rr", [16]), ("temp", {"c": 37}), ("o2", 1), ("o2", "no")],
)
def test_wrong_type_is_dropped(field: str, value: Any) -> None:
    reading = _vitals(**{field: value}, hr=70) if field != "hr" else _vitals(hr=value)
    assert getattr(reading, field) is None
    assert FieldRejection(field, FieldProblem.WRONG_TYPE) in reading.rejected


@pytest.mark.parametrize("letter", ["A", "C", "V", "P", "U"])
def test_acvpu_levels_are_accepted(letter: str) -> None:
    assert _vitals(avpu=letter).avpu == Avpu(letter)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("a", "unknown_value"), ("X", "unknown_value"), ("", "unknown_value"), (1, "wrong_type")],
)
def test_unknown_avpu_is_dropped(value: Any, problem: str) -> None:
    reading = _vitals(avpu=value, hr=70)
    assert (reading.avpu, reading.hr) == (None, 70)
    assert reading.rejected == (FieldRejection("avpu", FieldProblem(problem)),)


def test_diastolic_not_below_systolic_drops_both() -> None:
    reading = _vitals(sbp=80, dbp=80, hr=90)
    assert (reading.sbp, reading.dbp, reading.hr) == (None, None, 90)
    assert {r.problem for r in reading.rejected} == {FieldProblem.INCONSISTENT}


def test_unknown_field_is_reported_not_stored() -> None:
    reading = _vitals(spO2=96, hr=70)
    assert reading.rejected == (FieldRejection("spO2", FieldProblem.UNKNOWN_FIELD),)
    assert reading.spo2 is None


def test_null_means_absent() -> None:
    assert _vitals(hr=None, avpu=None, o2=None) == Vitals(ts=WHEN)


def test_position_is_decoded() -> None:
    reading = _position(lat=60.17, lon=24.94, speed=13.9, heading=270)
    assert reading == Position(ts=WHEN, lat=60.17, lon=24.94, speed=13.9, heading=270)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"lat": 91, "lon": 24.9}, {"lat": "out_of_range", "lon": "unpaired"}),
        ({"lat": 60.1, "lon": -181}, {"lon": "out_of_range", "lat": "unpaired"}),
        ({"lat": 60.1}, {"lat": "unpaired"}),
        ({"lat": 60.1, "lon": 24.9, "speed": -1}, {"speed": "out_of_range"}),
        ({"lat": 60.1, "lon": 24.9, "heading": 361}, {"heading": "out_of_range"}),
    ],
)
def test_half_a_coordinate_locates_nothing(
    fields: dict[str, float], expected: dict[str, str]
) -> None:
    reading = _position(**fields)
    assert {r.field: r.problem.value for r in reading.rejected} == expected
    assert (reading.lat is None) == (reading.lon is None)


def test_status_keeps_scalar_attributes() -> None:
    raw = json.dumps({"ts": TS, "battery": 81, "charging": True, "fw": "2.1", "x": [1]}).encode()
    (reading,) = parse_readings(Kind.STATUS, raw)
    assert reading == DeviceStatus(
        ts=WHEN,
        attributes=(("battery", 81), ("charging", True), ("fw", "2.1")),
        rejected=(FieldRejection("x", FieldProblem.WRONG_TYPE),),
    )


def test_batch_keeps_order_and_per_reading_rejections() -> None:
    batch = {
        "readings": [
            {"ts": "2025-03-01T10:00:00Z", "hr": 70},
            {"ts": "2025-03-01T10:00:01Z", "hr": 999, "spo2": 97},
        ]
    }
    first, second = parse_readings(Kind.VITALS, json.dumps(batch).encode())
    assert isinstance(first, Vitals)
    assert isinstance(second, Vitals)
    assert (first.hr, second.hr, second.spo2) == (70, None, 97)
    assert second.rejected == (FieldRejection("hr", FieldProblem.OUT_OF_RANGE),)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"readings": []}, Reason.BAD_SHAPE),
        ({"readings": {"ts": TS}}, Reason.BAD_SHAPE),
        ({"readings": [{"ts": TS}, 5]}, Reason.BAD_SHAPE),
        ({"readings": [{"ts": TS}], "ts": TS}, Reason.BAD_SHAPE),
        ({"readings": [{"ts": TS}] * (MAX_BATCH + 1)}, Reason.BAD_SHAPE),
        ({"readings": [{"ts": TS}, {"hr": 70}]}, Reason.BAD_TIMESTAMP),
        ([{"ts": TS}], Reason.BAD_SHAPE),
        ("text", Reason.BAD_SHAPE),
        (None, Reason.BAD_SHAPE),
        ({"hr": 70}, Reason.BAD_TIMESTAMP),
        ({"ts": 1740830400}, Reason.BAD_TIMESTAMP),
    ],
)
def test_malformed_message_is_rejected_whole(document: Any, reason: Reason) -> None:
    assert _reason(Kind.VITALS, json.dumps(document).encode()) is reason


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"", Reason.BAD_JSON),
        (b"{", Reason.BAD_JSON),
        (b'{"ts": "' + TS.encode() + b'", "hr": NaN}', Reason.BAD_JSON),
        (b'{"ts": "' + TS.encode() + b'", "hr": Infinity}', Reason.BAD_JSON),
        (b'{"ts": "' + TS.encode() + b'", "hr": 70, "hr": 200}', Reason.BAD_JSON),
        (b'{"ts": "' + TS.encode() + b'", "hr": ' + b"9" * 5000 + b"}", Reason.BAD_JSON),
        (b"[" * 100_000 + b"]" * 100_000, Reason.BAD_JSON),
        (b'{"ts": "\xff"}', Reason.BAD_ENCODING),
        ('{"ts": "x"}'.encode("utf-16"), Reason.BAD_ENCODING),
    ],
)
def test_undecodable_plaintext_is_rejected(plaintext: bytes, reason: Reason) -> None:
    assert _reason(Kind.VITALS, plaintext) is reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T12:00:00Z", datetime(2025, 3, 1, 12, tzinfo=UTC)),
        ("2025-03-01t12:00:00z", datetime(2025, 3, 1, 12, tzinfo=UTC)),
        ("2025-03-01T12:00:00.5-02:30", datetime(2025, 3, 1, 14, 30, 0, 500_000, tzinfo=UTC)),
        ("2025-03-01T12:00:00.123456789+00:00", datetime(2025, 3, 1, 12, 0, 0, 123_456, UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
    ],
)
def test_rfc3339_timestamps_are_parsed(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-01T12:00:00",  # no offset: local time of an unknown place
        "2025-03-01 12:00:00Z",
        "2025-03-01T12:00Z",
        "20250301T120000Z",
        "2025-02-30T12:00:00Z",
        "2025-03-01T24:00:00Z",
        "2025-03-01T12:00:00+24:00",
        "2025-03-01T12:00:00+01:60",
        "2025-03-01T12:00:00+0100",
        "0000-01-01T00:00:00Z",
        "2025-03-01T12:00:00.Z",
        "٢٠٢٥-03-01T12:00:00Z",
        "2025-03-01T12:00:00Z ",
        "",
    ],
)
def test_timestamps_that_are_not_rfc3339_are_rejected(text: str) -> None:
    with pytest.raises(EnvelopeRejected) as caught:
        parse_timestamp(text)
    assert caught.value.reason is Reason.BAD_TIMESTAMP


def test_offset_is_kept() -> None:
    assert parse_timestamp("2025-03-01T12:00:00-05:00").tzinfo == timezone(timedelta(hours=-5))


def test_rejection_detail_never_echoes_the_plaintext() -> None:
    with pytest.raises(EnvelopeRejected) as caught:
        parse_readings(Kind.VITALS, b'{"ts": "2025", "hr": 123456, "name": "Jane Doe"')
    assert "Jane" not in str(caught.value)
    assert "123456" not in str(caught.value)


in_range = {
    name: st.integers(int(PLAUSIBLE[name].low), int(PLAUSIBLE[name].high))
    | st.floats(PLAUSIBLE[name].low, PLAUSIBLE[name].high)
    for name in ("hr", "spo2", "rr", "temp")
}


@given(
    st.fixed_dictionaries(
        {}, optional={**in_range, "o2": st.booleans(), "avpu": st.sampled_from("ACVPU")}
    )
)
def test_plausible_values_pass_through_unchanged(fields: dict[str, Any]) -> None:
    reading = _vitals(**fields)
    assert reading.rejected == ()
    for name, value in fields.items():
        assert getattr(reading, name) == value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["ts", "hr", "readings", "lat", "lon", "x"]), children)
    ),
    max_leaves=12,
)


@settings(max_examples=100)
@given(document=json_values, kind=st.sampled_from(list(Kind)))
def test_any_json_document_is_read_or_rejected(document: Any, kind: Kind) -> None:
    outcome: object
    try:
        outcome = parse_readings(kind, json.dumps(document).encode())
    except EnvelopeRejected as exc:
        outcome = exc.reason
    assert isinstance(outcome, Reason) or (isinstance(outcome, tuple) and len(outcome) > 0)


def _decoded(decode: Any, raw: bytes) -> str:
    """What a decoder made of `raw`, type-exact (1 and 1.0 differ), or the refusal's reason."""
    try:
        return repr(decode(raw))
    except EnvelopeRejected as exc:
        return f"refused: {exc.reason}"


def _with_duplicate_key(document: Any, data: st.DataObject) -> bytes:
    """`document` as JSON with the first key of one of its objects written twice."""
    text = json.dumps(document)
    starts = [i for i, ch in enumerate(text) if ch == "{" and text[i + 1] == '"']
    if not starts:
        return text.encode()
    at = data.draw(st.sampled_from(starts))
    end = text.index('": ', at) + 3
    return (text[: at + 1] + text[at + 1 : end] + '"dup", ' + text[at + 1 :]).encode()


json_text_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab:"\\é\x00 '), max_size=6),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["ts", "hr", "a:b", "x"]), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300)
@given(document=json_text_values, data=st.data())
def test_fast_decoder_agrees_with_the_reference_decoder(document: Any, data: st.DataObject) -> None:
    from emsync.telemetry.readings import _decode, _decode_strict

    raw = json.dumps(document).encode()
    if data.draw(st.booleans()):
        raw = _with_duplicate_key(document, data)
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut] + data.draw(st.binary(max_size=3)) + raw[cut:]
    assert _decoded(_decode, raw) == _decoded(_decode_strict, raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"ts": "2025-03-01T12:00:00+01:00", "hr": 70, "hr": 180}',
        b'{"readings": [{"ts": "2025-03-01T12:00:00Z", "hr": 1, "hr": 2}]}',
        b'{"ts": "2025-03-01T12:00:00Z", "hr": 70, "h\\u0072": 180}',
        b'{"ts": "2025-03-01T12:00:00Z", "x": "\\u003a", "x": 1}',
        b'{"ts": "2025-03-01T12:00:00Z", "hr": 123456789012345678901234567890}',
    ],
)
def test_duplicate_keys_and_long_integers_decode_as_the_reference_does(raw: bytes) -> None:
    from emsync.telemetry.readings import _decode, _decode_strict

    assert _decoded(_decode, raw) == _decoded(_decode_strict, raw)
