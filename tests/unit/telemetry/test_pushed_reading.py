"""The live push builds each reading's JSON directly (`pushed_reading`); it must be exactly what
the one wire schema of a reading (`VitalsReading`, through `reading_of`) dumps, so the browser
sees the same shape on the live and the history path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from emsync.telemetry.store import pushed_reading, reading_of

# Offsets as an RFC 3339 timestamp carries them: whole minutes, within a day.
OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
TIMES = st.builds(
    lambda at, tz: at.replace(tzinfo=UTC).astimezone(tz),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.one_of(st.just(UTC), OFFSETS),
)
NUMBER = st.one_of(st.integers(0, 350), st.floats(0, 350, allow_nan=False))
SCORE = st.fixed_dictionaries(
    {
        "total": st.integers(0, 20),
        "band": st.sampled_from(["low", "low-medium", "medium", "high"]),
        "subscores": st.lists(st.integers(0, 3), max_size=7),
    }
)
ARTEFACTS = st.lists(
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["hr", "spo2", "sbp", "dbp", "temp"]),
            "kind": st.sampled_from(["lead_off", "motion", "probe_off", "damped_line"]),
        }
    ),
    max_size=3,
)


@st.composite
def pushed_values(draw: st.DrawFn) -> dict[str, Any]:
    """A reading's values as the pipeline pushes them: what was measured, its score, its flags."""
    values: dict[str, Any] = {}
    for name in ("hr", "spo2", "rr", "sbp", "dbp", "temp"):
        if draw(st.booleans()):
            values[name] = draw(NUMBER)
    if draw(st.booleans()):
        values["o2"] = draw(st.booleans())
    if draw(st.booleans()):
        values["avpu"] = draw(st.sampled_from("ACVPU"))
    scale = draw(st.sampled_from([None, "news2", "pews"]))
    if scale is not None:
        values[scale] = draw(SCORE)
    if draw(st.booleans()):
        values["artefacts"] = draw(ARTEFACTS)
    values["ts"] = draw(TIMES).isoformat()
    return values


@given(pushed_values())
def test_pushed_reading_is_the_wire_schemas_json(values: dict[str, Any]) -> None:
    expected = reading_of(datetime.fromisoformat(values["ts"]), "mon-1", values)
    # As text: a dict comparison would take 76 for 76.0, which the browser would not get.
    assert json.dumps(pushed_reading("mon-1", values)) == json.dumps(
        expected.model_dump(mode="json")
    )


def test_a_utc_reading_is_pushed_with_z_and_float_values() -> None:
    values = {"hr": 76, "temp": 36.8, "ts": "2026-12-07T01:23:00.500000+00:00"}
    pushed = pushed_reading("mon-1", values)
    assert pushed["ts"] == "2026-12-07T01:23:00.500000Z"
    assert pushed["hr"] == 76.0
    assert type(pushed["hr"]) is float
    assert pushed["artefacts"] == []
