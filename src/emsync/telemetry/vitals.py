"""Vital-sign values, pure: the latest value of each field per patient, NEWS2 over them, and
downsampling of a history into N points per series for charts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from emsync.triage.news2 import news2

NUMERIC_FIELDS = ("hr", "spo2", "rr", "sbp", "dbp", "temp")
VITAL_FIELDS = (*NUMERIC_FIELDS, "o2", "avpu")

Value = float | bool | str
_tuple_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__
# What NEWS2 took as air / Alert, by (oxygen reported, consciousness reported).
_ASSUMED: dict[tuple[bool, bool], tuple[str, ...]] = {
    (True, True): (),
    (True, False): ("avpu",),
    (False, True): ("o2",),
    (False, False): ("o2", "avpu"),
}


class Scored(NamedTuple):
    total: int
    band: str
    subscores: tuple[int, ...]
    assumed: tuple[str, ...]
    ts: datetime

    def as_dict(self, ts_text: str | None = None) -> dict[str, Any]:
        """`ts_text`: `self.ts.isoformat()` when the caller already has it (it is not cheap)."""
        return {
            "total": self.total,
            "band": self.band,
            "subscores": list(self.subscores),
            "assumed": list(self.assumed),
            "ts": self.ts.isoformat() if ts_text is None else ts_text,
        }


# A field whose newest value a rule flagged: (the artefact kind, the value the score takes
# instead, whether the kind leaves the score). For a kind in artefacts.SUPPRESSING the score
# takes the last unflagged value with its time (None: none, the field is left out); any other
# kind is scored as measured and carries None.
Mark = tuple[str, tuple[Value, datetime] | None, bool]


class LatestValues:
    """The newest value of each field per patient, with its time (the latest-value cache), and
    the artefact marks of those newest values: the latest view shows a lead off as a lead off and
    scores as the ingest pipeline scored, not the raw 0."""

    __slots__ = ("_by_patient", "_limit", "_marks")

    def __init__(self, limit: int = 100_000) -> None:
        self._by_patient: dict[str, dict[str, tuple[Value, datetime]]] = {}
        # patient -> field -> Mark, only while that field's newest value is flagged (rare)
        self._marks: dict[str, dict[str, Mark]] = {}
        self._limit = limit

    def update(self, patient_id: str, ts: datetime, values: Mapping[str, Value | None]) -> None:
        fields = self._by_patient.get(patient_id)
        if fields is None:
            if len(self._by_patient) >= self._limit:
                evicted = next(iter(self._by_patient))
                self._by_patient.pop(evicted)
                self._marks.pop(evicted, None)
            fields = self._by_patient[patient_id] = {}
        marks = self._marks.get(patient_id)  # None for nearly every patient: one look-up
        for name, value in values.items():
            if value is None:
                continue
            old = fields.get(name)
            if old is None or old[1] <= ts:
                fields[name] = (value, ts)
                if marks is not None:
                    marks.pop(name, None)

    def mark(self, patient_id: str, ts: datetime, marks: Mapping[str, Mark]) -> None:
        """Flags on the reading of `ts` (called after its `update`): kept for the fields whose
        newest value is that reading's."""
        fields = self._by_patient.get(patient_id) or {}
        kept = {name: m for name, m in marks.items() if (f := fields.get(name)) and f[1] == ts}
        if kept:
            self._marks.setdefault(patient_id, {}).update(kept)

    def get(self, patient_id: str) -> dict[str, tuple[Value, datetime]] | None:
        return self._by_patient.get(patient_id)

    def scoring(self, patient_id: str) -> dict[str, tuple[Value, datetime]]:
        """The patient's fields as a score takes them (`scoring_fields`): the cache's own dict
        when none of its newest values is flagged (the common case: no copy)."""
        fields = self._by_patient.get(patient_id) or {}
        marks = self._marks.get(patient_id)
        return scoring_fields(fields, marks) if marks else fields

    def snapshot(self, patient_id: str) -> dict[str, tuple[Value, datetime]] | None:
        """A copy of the patient's fields, for a reader on another thread than the writer (the
        ingest's, telemetry.ingest_thread): the copy is one step under the GIL, while iterating
        the live dict could meet a field the ingest adds meanwhile."""
        fields = self._by_patient.get(patient_id)
        return None if fields is None else fields.copy()

    def marks(self, patient_id: str) -> dict[str, Mark]:
        """A copy of the marks of the patient's newest values (see `snapshot` for why a copy)."""
        marks = self._marks.get(patient_id)
        return {} if marks is None else marks.copy()

    def forget(self, patient_id: str) -> None:
        self._by_patient.pop(patient_id, None)
        self._marks.pop(patient_id, None)


def scoring_fields(
    fields: Mapping[str, tuple[Value, datetime]], marks: Mapping[str, Mark]
) -> dict[str, tuple[Value, datetime]]:
    """The values an early-warning score takes: a field flagged by a suppressing rule replaced
    by its last unflagged value, or left out when there is none."""
    scored = dict(fields)
    for name, (_, instead, suppressing) in marks.items():
        if not suppressing:
            continue
        if instead is None:
            scored.pop(name, None)
        else:
            scored[name] = instead
    return scored


def score(
    fields: Mapping[str, tuple[Value, datetime]],
    *,
    at: datetime,
    window: timedelta,
    spo2_scale: int = 1,
) -> Scored | None:
    """NEWS2 over the values measured within `window` before `at`, or None if rr, spo2, sbp, hr
    or temp is missing. Oxygen and consciousness are often not reported by a monitor and are
    then taken as air and Alert, and the score says so (`assumed`).

    Called once per stored reading, so it looks up the seven fields directly rather than
    filtering the patient's whole cache into a new dict first.
    """
    oldest = at - window  # ts >= at - window, i.e. at - ts <= window, with one subtraction
    get = fields.get
    rr, spo2, sbp, hr, temp = get("rr"), get("spo2"), get("sbp"), get("hr"), get("temp")
    if rr is None or spo2 is None or sbp is None or hr is None or temp is None:
        return None
    if rr[1] < oldest or spo2[1] < oldest or sbp[1] < oldest or hr[1] < oldest:
        return None
    if temp[1] < oldest:
        return None
    o2, avpu = get("o2"), get("avpu")
    if o2 is not None and o2[1] < oldest:
        o2 = None
    if avpu is not None and avpu[1] < oldest:
        avpu = None
    result = news2(
        rr=float(rr[0]),
        spo2=float(spo2[0]),
        on_oxygen=o2 is not None and bool(o2[0]),
        sbp=float(sbp[0]),
        hr=float(hr[0]),
        consciousness="A" if avpu is None else str(avpu[0]),
        temp=float(temp[0]),
        scale=spo2_scale,
    )
    return _tuple_new(
        Scored,
        (
            result.total,
            str(result.band),  # a StrEnum's str() is its value, without Enum's slower `.value`
            tuple(result.subscores),
            _ASSUMED[(o2 is not None, avpu is not None)],
            at,
        ),
    )


def downsample(
    points: Iterable[tuple[datetime, float]], *, start: datetime, end: datetime, n: int
) -> list[tuple[datetime, float, int]]:
    """Mean of each of `n` equal time buckets over [start, end], empty buckets left out.

    Each point is stamped at its bucket's mean time, so a sparse series keeps its shape.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    span = (end - start).total_seconds()
    sums: dict[int, list[float]] = {}
    for ts, value in points:
        offset = (ts - start).total_seconds()
        bucket = 0 if span <= 0 else min(n - 1, max(0, int(offset / span * n)))
        acc = sums.setdefault(bucket, [0.0, 0.0, 0])
        acc[0] += value
        acc[1] += offset
        acc[2] += 1
    out = []
    for bucket in sorted(sums):
        total, offsets, count = sums[bucket]
        out.append((start + timedelta(seconds=offsets / count), total / count, int(count)))
    return out
