"""ATMIST Signs from telemetry (pure): device readings as handoff vital-sign sets, thinned to a
few sets spread over time, merged with what the crew entered.

Telemetry accepts wider ranges than a handoff's `VitalSigns` (a monitor may report a float heart
rate or a temperature probe off the body); each field is converted on its own, and a field that
does not fit is left out rather than dropping the whole set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

TELEMETRY = "telemetry"
CREW = "crew"

# Auto-filled signs: the last half hour, at most this many sets (always the newest).
WINDOW = timedelta(minutes=30)
MAX_SETS = 6
MAX_SIGNS = 200  # AtmistRecord.signs' limit

# field → (lowest, highest) a handoff accepts (schemas.VitalSigns).
_INT_RANGES: Mapping[str, tuple[int, int]] = {
    "hr": (0, 300),
    "spo2": (0, 100),
    "rr": (0, 80),
    "sbp": (0, 300),
    "dbp": (0, 250),
}
_TEMP_RANGE = (25.0, 45.0)
_AVPU = frozenset({"A", "C", "V", "P", "U"})


def _as_int(value: Any, bounds: tuple[int, int]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = round(value)
    return number if bounds[0] <= number <= bounds[1] else None


def vital_set(ts: datetime, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """One telemetry reading as a handoff sign set (fields that fit only), or None if none do."""
    sign: dict[str, Any] = {}
    for name in ("hr", "spo2", "rr"):
        number = _as_int(values.get(name), _INT_RANGES[name])
        if number is not None:
            sign[name] = number
    sbp = _as_int(values.get("sbp"), _INT_RANGES["sbp"])
    dbp = _as_int(values.get("dbp"), _INT_RANGES["dbp"])
    if sbp is not None and dbp is not None and dbp < sbp:  # a blood pressure is both or neither
        sign["sbp"], sign["dbp"] = sbp, dbp
    temp = values.get("temp")
    if (
        isinstance(temp, int | float)
        and not isinstance(temp, bool)
        and _TEMP_RANGE[0] <= temp <= _TEMP_RANGE[1]
    ):
        sign["temp"] = float(temp)
    if values.get("avpu") in _AVPU:
        sign["avpu"] = values["avpu"]
    if not sign:  # supplemental oxygen alone is not a set of vital signs
        return None
    if isinstance(values.get("o2"), bool):
        sign["o2"] = values["o2"]
    # The rules' flags travel with the values they flag (a lead off's 0 is never a bare HR 0);
    # a flag on a field left out above goes with it.
    flagged = [
        {"field": a["field"], "kind": a["kind"]}
        for a in values.get("artefacts") or ()
        if a["field"] in sign
    ]
    return {"ts": ts, **sign, "source": TELEMETRY, **({"artefacts": flagged} if flagged else {})}


def spread(readings: Sequence[tuple[datetime, Any]], n: int) -> list[tuple[datetime, Any]]:
    """At most `n` of the time-ordered `readings`, spread evenly over their span: the oldest,
    the newest, and the nearest reading to each even step between them."""
    if n <= 0 or not readings:
        return []
    if len(readings) <= n:
        return list(readings)
    if n == 1:
        return [readings[-1]]
    first, last = readings[0][0], readings[-1][0]
    step = (last - first) / (n - 1)
    chosen: list[int] = []
    i = 0
    for k in range(n):
        target = first + step * k
        while i + 1 < len(readings) and abs(readings[i + 1][0] - target) <= abs(
            readings[i][0] - target
        ):
            i += 1
        if not chosen or chosen[-1] != i:
            chosen.append(i)
    if chosen[-1] != len(readings) - 1:
        chosen[-1] = len(readings) - 1
    return [readings[j] for j in chosen]


def telemetry_signs(
    readings: Sequence[tuple[datetime, Mapping[str, Any]]], n: int = MAX_SETS
) -> list[dict[str, Any]]:
    """Up to `n` sign sets from time-ordered readings; a reading with nothing usable is skipped
    before thinning, so the newest usable reading is always among them."""
    usable = [(ts, sign) for ts, values in readings if (sign := vital_set(ts, values)) is not None]
    return [sign for _, sign in spread(usable, n)]


def merge(
    current: Sequence[Mapping[str, Any]], incoming: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The draft's sets with telemetry sets added by time: a set at a time already present (the
    crew's or an earlier fill) is kept as it is, never replaced or doubled. Over the record's
    limit, the oldest telemetry sets go first; the crew's are never dropped."""
    taken = {_instant(s["ts"]) for s in current}
    merged = [dict(s) for s in current]
    for sign in incoming:
        if _instant(sign["ts"]) not in taken:
            taken.add(_instant(sign["ts"]))
            merged.append(dict(sign))
    merged.sort(key=lambda s: _instant(s["ts"]))
    excess = len(merged) - MAX_SIGNS
    if excess > 0:
        drop = {id(s) for s in [s for s in merged if s.get("source") == TELEMETRY][:excess]}
        merged = [s for s in merged if id(s) not in drop]
    return merged


def _instant(ts: datetime | str) -> datetime:
    return ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
