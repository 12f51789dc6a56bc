"""Vitals queries: the latest value of each parameter, history (paginated or downsampled for
charts), and recent readings for other domains. Devices, alerts and the at-rest reading format
have modules of their own (devices.py, alerting.py, store.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import NotFound, ValidationFailed
from emsync.telemetry.artefacts import suppressed_fields
from emsync.telemetry.checks import marks_of
from emsync.telemetry.models import Device, StoredReading
from emsync.telemetry.paediatric import is_child, score_pews
from emsync.telemetry.risk_scores import risk_history
from emsync.telemetry.schemas import (
    FieldValue,
    LatestVitals,
    News2Read,
    PewsLiveRead,
    SeriesPoint,
    VitalsHistory,
)
from emsync.telemetry.store import STORED_COLUMNS, open_reading, vitals_reading
from emsync.telemetry.vitals import (
    NUMERIC_FIELDS,
    VITAL_FIELDS,
    LatestValues,
    Mark,
    Value,
    downsample,
    score,
    scoring_fields,
)

MAX_HISTORY_READINGS = 200_000
MAX_RISK_SCORES = 1000  # a score a minute at most: 16 h before thinning


async def latest_vitals(
    *,
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    cache: LatestValues | None,
    window: timedelta,
    age_years: float | None,
) -> LatestVitals:
    """From this process's latest-value cache when it holds the patient, else from storage.

    Each value carries the artefact its reading was flagged with, and the score is the one the
    ingest pipeline gave: a suppressed value (a lead off's 0) is scored with the last unflagged
    one, a child with Bedside PEWS and never NEWS2, by the SpO2 scale of the bound device."""
    fields = cache.snapshot(patient_id) if cache is not None else None
    marks = cache.marks(patient_id) if cache is not None and fields is not None else {}
    if fields is None:
        fields, marks = await _stored_latest(session, keyring, patient_id)
    spo2_scale = (
        await session.scalar(
            select(func.max(Device.spo2_scale)).where(Device.patient_id == patient_id)
        )
        or 1
    )
    latest_ts = max(ts for _, ts in fields.values())
    values = {
        name: FieldValue(value=v, ts=ts, artefact=marks[name][0] if name in marks else None)
        for name, (v, ts) in fields.items()
    }
    scored = scoring_fields(fields, marks)
    if is_child(age_years):
        assert age_years is not None
        pews = score_pews(scored, at=latest_ts, window=window, age_years=age_years)
        return LatestVitals(
            patient_id=patient_id,
            values=values,
            news2=None,
            pews=None if pews is None else PewsLiveRead(**pews.as_dict()),
        )
    news = score(scored, at=latest_ts, window=window, spo2_scale=spo2_scale)
    return LatestVitals(
        patient_id=patient_id,
        values=values,
        news2=None
        if news is None
        else News2Read(
            total=news.total,
            band=news.band,
            subscores=list(news.subscores),
            assumed=list(news.assumed),
            ts=news.ts,
        ),
    )


async def _stored_latest(
    session: AsyncSession, keyring: Keyring, patient_id: str
) -> tuple[dict[str, tuple[Value, datetime]], dict[str, Mark]]:
    """The newest values of the last 50 readings, with their marks, as the cache would hold
    them had it seen those readings (a separate API process, or one just restarted)."""
    rows = (
        await session.execute(
            select(*STORED_COLUMNS)
            .where(StoredReading.patient_id == patient_id, StoredReading.kind == "vitals")
            .order_by(StoredReading.ts.desc())
            .limit(50)
        )
    ).all()
    if not rows:
        raise NotFound(f"no vitals stored for patient {patient_id}")
    rebuilt = LatestValues()
    unflagged: dict[str, tuple[Value, datetime]] = {}
    for row in reversed(rows):
        values = open_reading(keyring, row)
        ts = as_utc(row.ts)
        measured = {k: values.get(k) for k in VITAL_FIELDS}
        rebuilt.update(patient_id, ts, measured)
        flagged = values.get("artefacts") or ()
        if flagged:
            rebuilt.mark(patient_id, ts, marks_of(flagged, unflagged))
        suppressed = suppressed_fields(flagged)
        for name, value in measured.items():
            if value is not None and name not in suppressed:
                unflagged[name] = (value, ts)
    return rebuilt.get(patient_id) or {}, rebuilt.marks(patient_id)


async def vitals_history(
    *,
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    start: datetime,
    end: datetime,
    limit: int,
    offset: int,
    points: int | None,
) -> VitalsHistory:
    if end <= start:
        raise ValidationFailed("end must be after start", errors=[{"field": "end"}])
    risk = await risk_history(
        session=session,
        keyring=keyring,
        patient_id=patient_id,
        start=start,
        end=end,
        limit=min(points or MAX_RISK_SCORES, MAX_RISK_SCORES),
    )
    where = and_(
        StoredReading.patient_id == patient_id,
        StoredReading.kind == "vitals",
        StoredReading.ts >= start,
        StoredReading.ts <= end,
    )
    total = await session.scalar(select(func.count()).select_from(StoredReading).where(where)) or 0
    if points is None:
        rows = (
            await session.execute(
                select(*STORED_COLUMNS)
                .where(where)
                .order_by(StoredReading.ts, StoredReading.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        items = [vitals_reading(r, open_reading(keyring, r)) for r in rows]
        return VitalsHistory(
            patient_id=patient_id,
            start=start,
            end=end,
            total=total,
            limit=limit,
            offset=offset,
            items=items,
            risk=risk,
        )
    if total > MAX_HISTORY_READINGS:
        raise ValidationFailed(
            f"{total} readings in range; narrow it to at most {MAX_HISTORY_READINGS}"
        )
    rows = (
        await session.execute(select(*STORED_COLUMNS).where(where).order_by(StoredReading.ts))
    ).all()
    return VitalsHistory(
        patient_id=patient_id,
        start=start,
        end=end,
        total=total,
        limit=limit,
        offset=offset,
        items=[],
        series=_charted(keyring, rows, start=start, end=end, points=points),
        risk=risk,
    )


def _charted(
    keyring: Keyring, rows: Sequence[Any], *, start: datetime, end: datetime, points: int
) -> dict[str, list[SeriesPoint]]:
    """Each parameter's series (and NEWS2's) averaged into at most `points` time buckets.

    A value a suppressing rule flagged (a lead off's 0, motion, a probe off: not the patient's)
    is left out of its bucket's mean, as the score leaves it out: a chart would draw it as a
    fall of the patient's own value. It is not lost: the paginated history (no `points`) returns
    every reading with its flags, and a point's `n` counts only the values it averages."""
    columns: dict[str, list[tuple[datetime, float]]] = {name: [] for name in NUMERIC_FIELDS}
    columns["news2"] = []
    for row in rows:
        values = open_reading(keyring, row)
        ts = as_utc(row.ts)
        suppressed = suppressed_fields(values.get("artefacts"))
        for name in NUMERIC_FIELDS:
            v = values.get(name)
            if v is not None and name not in suppressed:
                columns[name].append((ts, float(v)))
        if values.get("news2"):
            columns["news2"].append((ts, float(values["news2"]["total"])))
    return {
        name: [
            SeriesPoint(ts=t, value=round(v, 3), n=n)
            for t, v, n in downsample(pts, start=start, end=end, n=points)
        ]
        for name, pts in columns.items()
        if pts
    }


async def recent_vitals(
    *,
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    since: datetime,
    limit: int = 2000,
) -> list[tuple[datetime, dict[str, Any]]]:
    """The patient's newest stored vital-sign readings at or after `since` (at most `limit`),
    oldest first: each its time and the validated values the pipeline stored (hr, spo2, rr,
    sbp, dbp, temp, o2, avpu; only those present), with `artefacts` ({field, kind}) when the
    rules flagged any. Opened here, never logged."""
    rows = (
        await session.execute(
            select(*STORED_COLUMNS)
            .where(
                StoredReading.patient_id == patient_id,
                StoredReading.kind == "vitals",
                StoredReading.ts >= since,
            )
            .order_by(StoredReading.ts.desc(), StoredReading.id.desc())
            .limit(limit)
        )
    ).all()
    readings: list[tuple[datetime, dict[str, Any]]] = []
    for row in reversed(rows):
        values = open_reading(keyring, row)
        kept = {k: values[k] for k in VITAL_FIELDS if values.get(k) is not None}
        if flagged := values.get("artefacts"):
            kept["artefacts"] = flagged
        readings.append((as_utc(row.ts), kept))
    return readings
