"""Live deterioration risk: the shipped model (`emsync.triage`) scored as readings arrive.

Reacts to `VitalsReceived` after the batch is stored (off the ingest hot path, as the artefact
windows do). The model was trained on ICU charts (PhysioNet 2012: vitals charted about hourly,
first 48 h; label in-hospital death; see its model card), not on a 1 Hz monitor stream, so the
stream is first charted the way it learned: hourly means per channel, AVPU as the GCS it
stands for, the last 48 h. A patient is scored at most once per `risk_interval_seconds` in a
worker thread; each score is published on `vitals:<patient_id>` as a `risk` message with its
trend against the score about 15 minutes earlier, handed to the recorder that stores it in
batches (risk_scores.py: the trend survives a reload, a restart and a separate API process),
and a score at or over the configured thresholds raises (or lowers) a `deterioration` alert
through the same alert path as NEWS2. A patient first scored in this process (after a restart)
has its earlier stored scores recalled first, once, so its trend carries on. It is an aid
beside NEWS2, never a replacement; a child (scored with Bedside PEWS) is not scored at all, the
model being an adult ICU model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from emsync.telemetry.alerts import AlertLevel
from emsync.telemetry.artefacts import suppressed_fields
from emsync.telemetry.events import VitalsReceived
from emsync.telemetry.schemas import RiskRead
from emsync.triage.risk import VitalsReading

log = structlog.get_logger("emsync.telemetry.live_risk")
STOP_GRACE_SECONDS = 5.0

__all__ = ["ChartedSeries", "RiskScore", "RiskWatch", "risk_level", "trend_of"]

BUCKET = timedelta(hours=1)
HORIZON = timedelta(hours=48)
TREND_LOOKBACK = timedelta(minutes=15)
TREND_STEP = 0.02  # a change under two points of probability is "steady"
_CHANNELS = ("hr", "rr", "spo2", "sbp", "dbp", "temp")
_HORIZON_BUCKETS = HORIZON // BUCKET
_NUMBER_TYPES = frozenset({int, float})
# AVPU as the GCS it is usually taken for (ACVPU's new confusion as 14).
_GCS_OF_AVPU = {"A": 15.0, "C": 14.0, "V": 13.0, "P": 8.0, "U": 3.0}

Publish = Callable[[str, str, Any], object]
Score = Callable[[Sequence[VitalsReading]], float]
RaiseAlert = Callable[[str, AlertLevel | None, dict[str, Any]], Awaitable[None]]
Record = Callable[[RiskRead], None]
# The patient's stored scores at or after a time, oldest first: (ts, probability).
Recall = Callable[[str, datetime], Awaitable[list[tuple[datetime, float]]]]


@dataclass(slots=True)
class _Bucket:
    last: datetime
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    oxygen: bool | None = None

    def add(self, name: str, value: float) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + value
        self.counts[name] = self.counts.get(name, 0) + 1

    def mean(self, name: str) -> float | None:
        n = self.counts.get(name)
        return None if not n else self.sums[name] / n


# Plausible adult vitals, scored once at start-up to load and run the model (RiskWatch.start).
WARM_UP_VITALS: dict[str, Any] = {
    "hr": 80,
    "spo2": 97,
    "rr": 15,
    "sbp": 120,
    "dbp": 80,
    "temp": 36.8,
    "avpu": "A",
    "o2": False,
}


def _unsuppressed(flagged: Sequence[dict[str, str]]) -> tuple[str, ...]:
    suppressed = suppressed_fields(flagged)
    return tuple(name for name in _CHANNELS if name not in suppressed)


class ChartedSeries:
    """One patient's stream as hourly charted means (pure)."""

    def __init__(self) -> None:
        self.start: datetime | None = None
        self._buckets: dict[int, _Bucket] = {}

    def add(self, ts: datetime, values: dict[str, Any]) -> None:
        if self.start is None:
            self.start = ts
        if ts < self.start:
            return  # older than the series: the model reads a stay forwards
        index = int((ts - self.start) / BUCKET)
        bucket = self._buckets.get(index)
        if bucket is None:
            bucket = self._buckets[index] = _Bucket(ts)
        if ts > bucket.last:
            bucket.last = ts
        # Once per stored reading: the type test and the sums inline (bool is not a number here).
        sums, counts, get = bucket.sums, bucket.counts, values.get
        flagged = get("artefacts")
        # A lead off's 0, motion, a probe off: not the patient's, so not in the hour's mean (as
        # NEWS2 leaves them out); flags that keep a value in the score keep it here too.
        channels = _CHANNELS if not flagged else _unsuppressed(flagged)
        for name in channels:
            value: Any = get(name)
            if type(value) in _NUMBER_TYPES:
                sums[name] = sums.get(name, 0.0) + value
                counts[name] = counts.get(name, 0) + 1
        avpu = get("avpu")
        if isinstance(avpu, str) and avpu in _GCS_OF_AVPU:
            bucket.add("gcs", _GCS_OF_AVPU[avpu])
        o2 = get("o2")
        if type(o2) is bool:
            bucket.oxygen = bool(bucket.oxygen) or o2
        if index >= _HORIZON_BUCKETS:  # below it nothing is older than the horizon
            self._forget_before(ts - HORIZON)

    def _forget_before(self, cutoff: datetime) -> None:
        assert self.start is not None
        if cutoff <= self.start:
            return
        shift = int((cutoff - self.start) / BUCKET)
        self.start += shift * BUCKET
        self._buckets = {i - shift: b for i, b in self._buckets.items() if i >= shift}

    @property
    def hours(self) -> float:
        if self.start is None or not self._buckets:
            return 0.0
        return max((b.last - self.start).total_seconds() for b in self._buckets.values()) / 3600

    def readings(self) -> list[VitalsReading]:
        """One charted reading per hour that has values, as the model's training rows had."""
        if self.start is None:
            return []
        out = []
        for index in sorted(self._buckets):
            b = self._buckets[index]
            sbp, dbp = b.mean("sbp"), b.mean("dbp")
            mean_arterial = None if sbp is None or dbp is None else dbp + (sbp - dbp) / 3.0
            out.append(
                VitalsReading(
                    minutes=(b.last - self.start).total_seconds() / 60.0,
                    hr=b.mean("hr"),
                    rr=b.mean("rr"),
                    spo2=b.mean("spo2"),
                    sbp=sbp,
                    dbp=dbp,
                    map=mean_arterial,
                    temp=b.mean("temp"),
                    gcs=b.mean("gcs"),
                    on_oxygen=b.oxygen,
                )
            )
        return out


@dataclass(frozen=True, slots=True)
class RiskScore:
    patient_id: str
    ts: datetime
    probability: float
    previous: float | None
    trend: str  # rising, falling, steady, new
    hours_observed: float
    model_version: str

    def as_message(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "ts": self.ts.isoformat(),
            "probability": round(self.probability, 4),
            "previous": None if self.previous is None else round(self.previous, 4),
            "trend": self.trend,
            "hours_observed": round(self.hours_observed, 2),
            "model_version": self.model_version,
        }


def trend_of(previous: float | None, now: float) -> str:
    if previous is None:
        return "new"
    if now - previous >= TREND_STEP:
        return "rising"
    if previous - now >= TREND_STEP:
        return "falling"
    return "steady"


def risk_level(probability: float, *, threshold: float, high: float) -> AlertLevel | None:
    """The alert level a score calls for: HIGH at or over `high`, MEDIUM over `threshold`."""
    if probability >= high:
        return AlertLevel.HIGH
    if probability >= threshold:
        return AlertLevel.MEDIUM
    return None


@dataclass(slots=True)
class _Patient:
    series: ChartedSeries = field(default_factory=ChartedSeries)
    scored_at: datetime | None = None
    history: deque[tuple[datetime, float]] = field(default_factory=lambda: deque(maxlen=240))
    level: AlertLevel | None = None
    child: bool = False
    recalled: bool = False


class RiskWatch:
    """Scores monitored patients as their readings are stored; keeps each one's latest score."""

    def __init__(
        self,
        *,
        publish: Publish,
        score: Score,
        model_version: str,
        interval: timedelta,
        threshold: float,
        high: float,
        raise_alert: RaiseAlert | None,
        record: Record | None = None,
        recall: Recall | None = None,
        limit: int = 10_000,
    ) -> None:
        self._publish = publish
        self._score = score
        self._version = model_version
        self._interval = interval
        self._threshold = threshold
        self._high = high
        self._raise_alert = raise_alert
        self._record = record
        self._recall = recall
        self._limit = limit
        self._patients: dict[str, _Patient] = {}
        # Scores due, in order, each with the readings it is made from (at most one per patient
        # per interval, so this stays short unless the model falls behind the monitors).
        self._due: deque[tuple[str, datetime, list[VitalsReading]]] = deque()
        self._scorer: asyncio.Task[None] | None = None
        self.name = "risk-watch"  # a BackgroundService: stopped with the process

    def latest(self, patient_id: str) -> RiskScore | None:
        patient = self._patients.get(patient_id)
        if patient is None or not patient.history:
            return None
        ts, p = patient.history[-1]
        previous = _before(patient.history, ts - TREND_LOOKBACK)
        return RiskScore(
            patient_id, ts, p, previous, trend_of(previous, p), patient.series.hours, self._version
        )

    async def on_vitals(self, event: VitalsReceived) -> None:
        patient = self._patients.get(event.patient_id)
        if patient is None:
            if len(self._patients) >= self._limit:
                self._patients.pop(next(iter(self._patients)))
            patient = self._patients[event.patient_id] = _Patient()
        if any(r.get("pews") is not None for r in event.readings):
            patient.child = True  # scored with Bedside PEWS: the adult ICU model does not apply
        if patient.child:
            return
        newest: datetime | None = None
        for reading in event.readings:
            ts = reading.get("ts")
            if not isinstance(ts, str):
                continue
            at = datetime.fromisoformat(ts)
            patient.series.add(at, reading)
            newest = at if newest is None or at > newest else newest
        if newest is None:
            return
        if patient.scored_at is not None and newest - patient.scored_at < self._interval:
            return
        patient.scored_at = newest
        # Scored in a task of its own: the pipeline awaits this reaction before it stores the
        # next batch, and a score (the model in a thread, its first load, the stored history, an
        # alert's write) must never hold readings back (#23: not on the ingest hot path).
        self._due.append((event.patient_id, newest, patient.series.readings()))
        if self._scorer is None or self._scorer.done():
            self._scorer = asyncio.create_task(self._score_due(), name="risk-watch")

    async def settled(self) -> None:
        """Until every score due so far is made, pushed and handed on."""
        while self._scorer is not None and not self._scorer.done():
            await asyncio.shield(self._scorer)

    async def start(self) -> None:
        """The model loaded and run once before the process serves (the scorer itself starts
        with the first score due): its first load and first prediction (~30 and ~20 ms, against
        under 1 ms after) otherwise ran, in a thread but partly under the GIL, while the first
        monitors' readings went through the same process."""
        series = ChartedSeries()
        series.add(datetime.now(UTC), WARM_UP_VITALS)
        await asyncio.to_thread(self._score, series.readings())

    async def stop(self) -> None:
        """The scores already due are made (for the recorder, which stops after this), for at
        most a few seconds; then the scorer is ended."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled(), timeout=STOP_GRACE_SECONDS)
        if self._scorer is not None and not self._scorer.done():
            self._scorer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scorer

    async def _score_due(self) -> None:
        while self._due:
            patient_id, newest, readings = self._due.popleft()
            try:
                await self._score_one(patient_id, newest, readings)
            except Exception as exc:  # noqa: BLE001 - the next readings score again
                log.error("live risk score failed", error=type(exc).__name__)

    async def _score_one(
        self, patient_id: str, newest: datetime, readings: list[VitalsReading]
    ) -> None:
        patient = self._patients.get(patient_id)
        if patient is None:
            return
        if not patient.recalled:
            await self._recall_history(patient_id, patient, newest)
        probability = await asyncio.to_thread(self._score, readings)
        patient.history.append((newest, probability))
        score = self.latest(patient_id)
        assert score is not None
        push = RiskRead.model_validate(score.as_message())
        self._publish(f"vitals:{patient_id}", "risk", push.model_dump(mode="json"))
        if self._record is not None:
            self._record(push)
        level = risk_level(probability, threshold=self._threshold, high=self._high)
        if self._raise_alert is not None and (level is not None or patient.level is not None):
            detail = {"risk": round(probability, 4), "model": self._version}
            await self._raise_alert(patient_id, level, detail)
        patient.level = level

    async def _recall_history(self, patient_id: str, patient: _Patient, newest: datetime) -> None:
        """The scores stored before this process first scored the patient (a restart): the
        trend is taken against them, and the alert level they left is where this one starts."""
        patient.recalled = True
        if self._recall is None:
            return
        earlier = await self._recall(patient_id, newest - 4 * TREND_LOOKBACK)
        for ts, p in earlier:
            if ts < newest and (not patient.history or ts > patient.history[-1][0]):
                patient.history.append((ts, p))
        if patient.history:
            last = patient.history[-1][1]
            patient.level = risk_level(last, threshold=self._threshold, high=self._high)


def _before(history: deque[tuple[datetime, float]], cutoff: datetime) -> float | None:
    """The last score at or before `cutoff`."""
    found = None
    for ts, p in history:
        if ts > cutoff:
            break
        found = p
    return found
