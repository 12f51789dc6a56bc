"""Readings inside an opened envelope (DESIGN.md §3.1): strict JSON → frozen values. Pure.

A message is refused as a whole (`EnvelopeRejected`) when it is not a reading at all: not UTF-8,
not JSON, not an object, no RFC 3339 timestamp with offset, a malformed batch. A batch is all or
nothing, so storage never holds half of one.

A single implausible value is different: it is dropped from its reading and reported in
`rejected` (field name and reason, never the value, which is PHI), and the plausible fields of
the same reading are kept. The bounds below are plausibility limits, not normal ranges: they
separate "a living patient could produce this and a device could measure it" from "sensor fault,
unit mix-up or corruption". Abnormal but real values must pass, because they are exactly what
the alerting exists for.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from emsync.telemetry.envelope import EnvelopeRejected, Kind, Reason

__all__ = [
    "MAX_BATCH",
    "PLAUSIBLE",
    "Avpu",
    "DeviceStatus",
    "FieldProblem",
    "FieldRejection",
    "PlausibleRange",
    "Position",
    "Reading",
    "Vitals",
    "parse_readings",
    "parse_timestamp",
    "refuse_future",
]

# The envelope caps a payload at 64 KiB; a reading is at least ~30 bytes of JSON, so a real batch
# never reaches this, and a batch of empty objects is refused instead of expanded.
MAX_BATCH = 1000


class Avpu(StrEnum):
    """ACVPU consciousness level (RCP NEWS2, 2017): New confusion sits between Alert and Voice."""

    ALERT = "A"
    CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


_AVPU = {level.value: level for level in Avpu}  # a dict lookup: Avpu(value) costs ~1 µs


class FieldProblem(StrEnum):
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_VALUE = "unknown_value"  # e.g. an AVPU letter that is not one of A, C, V, P, U
    INCONSISTENT = "inconsistent"  # plausible alone, impossible together (dbp >= sbp)
    UNPAIRED = "unpaired"  # lat without a usable lon, or the reverse
    UNKNOWN_FIELD = "unknown_field"


@dataclass(frozen=True, slots=True)
class FieldRejection:
    field: str
    problem: FieldProblem


@dataclass(frozen=True, slots=True)
class PlausibleRange:
    low: float
    high: float
    unit: str

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


PLAUSIBLE: Mapping[str, PlausibleRange] = {
    # 0 is asystole and must reach the alerting; above 350 no conducted rhythm (infant SVT peaks
    # near 300) and no monitor's measurement range goes.
    "hr": PlausibleRange(0, 350, "bpm"),
    # Oximeters are calibrated only down to ~70 %; below 50 % a reading is probe-off or motion
    # artefact. A patient sliding that low has already scored NEWS2 3 on the way (<= 91 %).
    "spo2": PlausibleRange(50, 100, "%"),
    # 0 is apnoea and must reach the alerting; neonates can breathe 80-100 /min, nobody faster.
    "rr": PlausibleRange(0, 100, "/min"),
    # Invasive lines read down to ~20 mmHg in profound shock; 300 is beyond any recorded crisis
    # value at rest. Anything outside is a zeroing or transducer fault.
    "sbp": PlausibleRange(20, 300, "mmHg"),
    "dbp": PlausibleRange(5, 200, "mmHg"),
    # Survived extremes are 13.7 °C (accidental hypothermia) and 46.5 °C (heat stroke); an
    # ambulance meets both. The bounds also catch Fahrenheit sent as Celsius (98.6).
    "temp": PlausibleRange(13.0, 47.0, "°C"),
    "lat": PlausibleRange(-90.0, 90.0, "°"),
    "lon": PlausibleRange(-180.0, 180.0, "°"),
    # Ground speed in m/s (what GNSS receivers report); 350 m/s covers fixed-wing air ambulances.
    "speed": PlausibleRange(0.0, 350.0, "m/s"),
    # Degrees clockwise from true north; some receivers send 360 for north.
    "heading": PlausibleRange(0.0, 360.0, "°"),
}

_VITAL_NUMBERS = ("hr", "spo2", "rr", "sbp", "dbp", "temp")
_POSITION_NUMBERS = ("lat", "lon", "speed", "heading")
_VITAL_FIELDS = frozenset({"ts", "o2", "avpu", *_VITAL_NUMBERS})
_POSITION_FIELDS = frozenset({"ts", *_POSITION_NUMBERS})

Scalar = str | int | float | bool | None


class Vitals(NamedTuple):
    ts: datetime
    hr: float | None = None
    spo2: float | None = None
    rr: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    temp: float | None = None
    o2: bool | None = None  # on supplemental oxygen
    avpu: Avpu | None = None
    rejected: tuple[FieldRejection, ...] = ()


class Position(NamedTuple):
    ts: datetime
    lat: float | None = None
    lon: float | None = None
    speed: float | None = None
    heading: float | None = None
    rejected: tuple[FieldRejection, ...] = ()


class DeviceStatus(NamedTuple):
    """A device's own report (battery, signal, ...); DESIGN.md leaves its fields open."""

    ts: datetime
    attributes: tuple[tuple[str, Scalar], ...] = ()
    rejected: tuple[FieldRejection, ...] = ()


Reading = Vitals | Position | DeviceStatus

# RFC 3339 §5.6 date-time; ASCII digits only (int() would accept other scripts' digits).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_timestamp(text: str) -> datetime:
    """An aware datetime from an RFC 3339 date-time; EnvelopeRejected(bad_timestamp) otherwise."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise EnvelopeRejected(Reason.BAD_TIMESTAMP, "expected RFC 3339 date-time with offset")
    # Two ASCII digits each, so comparing strings compares numbers.
    if match[10] is not None and (match[10] > "23" or match[11] > "59"):
        raise EnvelopeRejected(Reason.BAD_TIMESTAMP, "offset out of range")
    # The regex is the strict gate; fromisoformat (C, several times faster than building the
    # datetime by hand) then only sees RFC 3339, upper-cased for its T and Z.
    iso = text.upper()
    leap = match[6] == "60"
    if leap:
        iso = f"{iso[:17]}59{iso[19:]}"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise EnvelopeRejected(Reason.BAD_TIMESTAMP, "no such date or time") from None
    # A leap second has no datetime; the last representable instant before it is closest.
    return parsed.replace(microsecond=999_999) if leap else parsed


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Two values for one field: trusting either would be a guess about a patient.
        raise ValueError("duplicate key")
    return result


def _decode_strict(plaintext: bytes) -> Any:
    """The reference decoder: every refusal and its reason are decided here."""
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeRejected(Reason.BAD_ENCODING, "plaintext is not UTF-8") from None
    try:
        return json.loads(
            text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicates
        )
    except (ValueError, RecursionError) as exc:
        # The detail is the parser's position message, never the document itself.
        raise EnvelopeRejected(Reason.BAD_JSON, type(exc).__name__) from None


class _Doubt(Exception):
    """The quick decoder's result might differ from the reference decoder's."""


# orjson turns an integer beyond 64 bits into a float (the reference keeps the int); a float
# this large may be one, so such documents go to the reference.
_LARGE = 2.0**63


def _colons(value: Any) -> int:
    """':' characters a document holds once decoded: one per key, plus those inside strings.

    Scalars are handled inline (no call per value): this runs once per message.
    """
    kind = type(value)
    if kind is dict:
        n = len(value) + "".join(value).count(":")
        items = value.values()
    elif kind is list:
        n = 0
        items = value
    elif kind is str:
        return value.count(":")  # type: ignore[no-any-return]
    else:
        return _colons_in_items((value,))
    return n + _colons_in_items(items)


def _colons_in_items(items: Iterable[Any]) -> int:
    n = 0
    for item in items:
        kind = type(item)
        if kind is str:
            n += item.count(":")
        elif kind is float:
            if not -_LARGE < item < _LARGE:
                raise _Doubt
        elif kind is dict or kind is list:
            n += _colons(item)
    return n


def _decode(plaintext: bytes) -> Any:
    """Strict JSON: orjson (C, several times faster) when it provably agrees with the reference.

    orjson keeps the last of duplicate keys silently. Without escapes a decoded string holds the
    same ':' characters as its source text, so a document whose source has more ':' than its
    decoded keys and strings account for lost a key to a duplicate. Any doubt (an escape, a
    colon count that differs, a very large number, anything orjson refuses) goes to the
    reference decoder, which decides as it always did, with the same reasons.
    """
    try:
        document = orjson.loads(plaintext)
        if b"\\" in plaintext or plaintext.count(b":") != _colons(document):
            raise _Doubt
    except (orjson.JSONDecodeError, _Doubt):
        return _decode_strict(plaintext)
    return document


def _number(raw: Mapping[str, Any], name: str, rejected: list[FieldRejection]) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    kind = type(value)
    if kind is int or kind is float:  # what JSON numbers decode to: the common case, quickly
        bounds = PLAUSIBLE[name]
        # NaN and the infinities fail the comparison too: out of range, as below.
        if bounds.low <= value <= bounds.high:
            return value  # type: ignore[no-any-return]
        rejected.append(FieldRejection(name, FieldProblem.OUT_OF_RANGE))
        return None
    # bool is an int in Python, but `true` is not a heart rate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        rejected.append(FieldRejection(name, FieldProblem.WRONG_TYPE))
        return None
    if isinstance(value, float) and not math.isfinite(value):
        rejected.append(FieldRejection(name, FieldProblem.OUT_OF_RANGE))
        return None
    if value not in PLAUSIBLE[name]:
        rejected.append(FieldRejection(name, FieldProblem.OUT_OF_RANGE))
        return None
    return value


def _unknown(raw: Mapping[str, Any], known: frozenset[str]) -> list[FieldRejection]:
    if raw.keys() <= known:
        return []
    return [FieldRejection(k, FieldProblem.UNKNOWN_FIELD) for k in raw if k not in known]


def _timestamp(raw: Mapping[str, Any]) -> datetime:
    ts = raw.get("ts")
    if not isinstance(ts, str):
        raise EnvelopeRejected(Reason.BAD_TIMESTAMP, "ts missing or not a string")
    return parse_timestamp(ts)


def _vitals(raw: Mapping[str, Any]) -> Vitals:
    ts = _timestamp(raw)
    rejected = _unknown(raw, _VITAL_FIELDS)
    hr = _number(raw, "hr", rejected)
    spo2 = _number(raw, "spo2", rejected)
    rr = _number(raw, "rr", rejected)
    sbp = _number(raw, "sbp", rejected)
    dbp = _number(raw, "dbp", rejected)
    temp = _number(raw, "temp", rejected)
    if sbp is not None and dbp is not None and dbp >= sbp:
        # Either could be the wrong one, so neither is stored as truth.
        rejected += [
            FieldRejection("sbp", FieldProblem.INCONSISTENT),
            FieldRejection("dbp", FieldProblem.INCONSISTENT),
        ]
        sbp = dbp = None
    o2 = raw.get("o2")
    if o2 is not None and not isinstance(o2, bool):
        rejected.append(FieldRejection("o2", FieldProblem.WRONG_TYPE))
        o2 = None
    avpu_raw = raw.get("avpu")
    avpu: Avpu | None = None
    if isinstance(avpu_raw, str):
        avpu = _AVPU.get(avpu_raw)
        if avpu is None:
            rejected.append(FieldRejection("avpu", FieldProblem.UNKNOWN_VALUE))
    elif avpu_raw is not None:
        rejected.append(FieldRejection("avpu", FieldProblem.WRONG_TYPE))
    return Vitals(
        ts=ts,
        hr=hr,
        spo2=spo2,
        rr=rr,
        sbp=sbp,
        dbp=dbp,
        temp=temp,
        o2=o2,
        avpu=avpu,
        rejected=tuple(rejected),
    )


def _position(raw: Mapping[str, Any]) -> Position:
    ts = _timestamp(raw)
    rejected = _unknown(raw, _POSITION_FIELDS)
    lat, lon, speed, heading = (_number(raw, name, rejected) for name in _POSITION_NUMBERS)
    # Half a coordinate locates nothing; keep the pair or neither.
    if lat is None and lon is not None:
        rejected.append(FieldRejection("lon", FieldProblem.UNPAIRED))
        lon = None
    elif lon is None and lat is not None:
        rejected.append(FieldRejection("lat", FieldProblem.UNPAIRED))
        lat = None
    return Position(ts=ts, lat=lat, lon=lon, speed=speed, heading=heading, rejected=tuple(rejected))


def _status(raw: Mapping[str, Any]) -> DeviceStatus:
    ts = _timestamp(raw)
    attributes: list[tuple[str, Scalar]] = []
    rejected: list[FieldRejection] = []
    for name, value in raw.items():
        if name == "ts":
            continue
        if value is None or isinstance(value, str | int | float | bool):
            attributes.append((name, value))
        else:
            rejected.append(FieldRejection(name, FieldProblem.WRONG_TYPE))
    return DeviceStatus(ts=ts, attributes=tuple(sorted(attributes)), rejected=tuple(rejected))


_READERS: dict[Kind, Callable[[Mapping[str, Any]], Reading]] = {
    Kind.VITALS: _vitals,
    Kind.POSITION: _position,
    Kind.STATUS: _status,
}


def refuse_future(readings: Iterable[Reading], *, now: datetime, max_skew: timedelta) -> None:
    """EnvelopeRejected(future_timestamp) when any reading is stamped later than `now` plus the
    allowed skew. The whole message goes: a clock that is wrong for one reading of a batch is
    wrong for all of them."""
    latest = now + max_skew
    for reading in readings:
        if reading.ts > latest:
            raise EnvelopeRejected(Reason.FUTURE_TIMESTAMP, "stamped after the time received")


def parse_readings(kind: Kind, plaintext: bytes) -> tuple[Reading, ...]:
    """The readings of one opened message, in the order sent (one, or a batch)."""
    document = _decode(plaintext)
    if not isinstance(document, dict):
        raise EnvelopeRejected(Reason.BAD_SHAPE, "expected a JSON object")
    read = _READERS[kind]
    if "readings" not in document:
        return (read(document),)
    batch = document["readings"]
    if len(document) != 1:
        raise EnvelopeRejected(Reason.BAD_SHAPE, "a batch carries only 'readings'")
    if not isinstance(batch, list) or not batch:
        raise EnvelopeRejected(Reason.BAD_SHAPE, "'readings' must be a non-empty list")
    if len(batch) > MAX_BATCH:
        raise EnvelopeRejected(Reason.BAD_SHAPE, f"more than {MAX_BATCH} readings")
    if not all(isinstance(item, dict) for item in batch):
        raise EnvelopeRejected(Reason.BAD_SHAPE, "every reading must be a JSON object")
    return tuple(read(item) for item in batch)
