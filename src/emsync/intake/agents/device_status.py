"""The device agent's judgements, pure: connectivity from when the device was last heard,
battery from its own status report, the newest value of each vital sign (with the artefacts the
monitor's rules flagged), and NEWS2 when the set is complete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from emsync.telemetry.artefacts import suppressed_fields
from emsync.triage.news2 import news2

RULE = "device-status"
VERSION = "1"
ONLINE_WITHIN = timedelta(minutes=2)
STALE_WITHIN = timedelta(minutes=15)
BATTERY_LOW = 20
BATTERY_CRITICAL = 10
# Stored reading field -> the name triage reads.
_FIELDS = {
    "hr": "hr",
    "spo2": "spo2",
    "rr": "rr",
    "sbp": "sbp",
    "dbp": "dbp",
    "temp": "temp",
    "o2": "on_oxygen",
    "avpu": "consciousness",
}


def connectivity(last_seen: datetime | None, now: datetime) -> str:
    """online (heard within 2 min), stale (15 min), offline, or never (no message yet)."""
    if last_seen is None:
        return "never"
    age = now - last_seen
    if age <= ONLINE_WITHIN:
        return "online"
    return "stale" if age <= STALE_WITHIN else "offline"


def battery(status: Mapping[str, Any]) -> tuple[float | None, str]:
    """The device's reported charge (percent) and ok / low / critical / unknown."""
    value = status.get("battery", status.get("battery_pct"))
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None, "unknown"
    if value <= BATTERY_CRITICAL:
        return float(value), "critical"
    return float(value), "low" if value <= BATTERY_LOW else "ok"


def latest_values(
    readings: Sequence[tuple[datetime, Mapping[str, Any]]],
) -> tuple[dict[str, Any], datetime | None]:
    """The newest value of each field over the readings (oldest first), named as triage names
    them, and the time of the newest reading."""
    values: dict[str, Any] = {}
    for _ts, reading in readings:
        for stored, name in _FIELDS.items():
            if reading.get(stored) is not None:
                values[name] = reading[stored]
    return values, readings[-1][0] if readings else None


def artefacts_of(readings: Sequence[tuple[datetime, Mapping[str, Any]]]) -> dict[str, str]:
    """The newest value of each field that the monitor's rules flagged: its name as triage
    names it -> the artefact kind (a lead off's heart rate of 0 is shown as such)."""
    flags: dict[str, str] = {}
    for _ts, reading in readings:
        marked = {a["field"]: a["kind"] for a in reading.get("artefacts") or ()}
        for stored, name in _FIELDS.items():
            if reading.get(stored) is not None:
                if stored in marked:
                    flags[name] = marked[stored]
                else:
                    flags.pop(name, None)
    return flags


def scoring_values(readings: Sequence[tuple[datetime, Mapping[str, Any]]]) -> dict[str, Any]:
    """`latest_values` as a score takes them: a value a suppressing rule flagged (a lead off,
    motion, a probe off: not the patient's) gives way to the newest unflagged one, as the
    telemetry pipeline scores."""
    values: dict[str, Any] = {}
    for _ts, reading in readings:
        suppressed = suppressed_fields(reading.get("artefacts"))
        for stored, name in _FIELDS.items():
            if reading.get(stored) is not None and stored not in suppressed:
                values[name] = reading[stored]
    return values


def news2_of(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """NEWS2 when rr, spo2, sbp, hr and temp are all present (AVPU alert and air if absent)."""
    needed = ("rr", "spo2", "sbp", "hr", "temp")
    if any(values.get(k) is None for k in needed):
        return None
    score = news2(
        rr=float(values["rr"]),
        spo2=float(values["spo2"]),
        on_oxygen=bool(values.get("on_oxygen")),
        sbp=float(values["sbp"]),
        hr=float(values["hr"]),
        consciousness=str(values.get("consciousness") or "A"),
        temp=float(values["temp"]),
    )
    return {"total": score.total, "band": score.band.value}
