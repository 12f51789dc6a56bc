"""The ingest pipeline: open → validate → NEWS2 → persist (batched, idempotent) → latest-value
cache → alerts → `VitalsReceived`.

A batch of MQTT messages goes through in two steps: `prepare` (open, check, score, seal and
update the latest-value cache; no database writes) and `commit` (store, then admit counters,
raise alerts, publish events), so ingest can prepare the next batch while the last one is being
stored. `commit` returns only when every message in the batch is either durably stored or
refused for good, so the caller may then acknowledge all of them; if storage fails it raises
and nothing in the batch may be acknowledged (the caller retries the same prepared batch). Per
message there is one decryption and no ORM object: rows are plain tuples for ReadingStore's
insert-or-ignore on (device, key id, counter, index).

The replay guard (envelope.ReplayGuard, a window per device and key) takes a message's counter
when `prepare` accepts it, so a later batch prepared before this one is stored still sees it.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from emsync.core.clock import Clock
from emsync.core.crypto import NONCE_BYTES, SEALED_VERSION, Keyring
from emsync.core.db import read_session_factory
from emsync.core.events import Event, EventBus
from emsync.core.metrics import observe_all
from emsync.core.settings import Settings
from emsync.telemetry import alerting, envelope
from emsync.telemetry.alerts import AlertKind, AlertStatus, ScoreObservation, alert_level
from emsync.telemetry.checks import ReadingChecks, alert_kind, detail_key
from emsync.telemetry.directory import DeviceDirectory, DeviceView
from emsync.telemetry.envelope import EnvelopeRejected, Kind, ReplayGuard, SealedReading
from emsync.telemetry.events import AlertChanged, PositionReceived, VitalsReceived
from emsync.telemetry.metrics import TelemetryMetrics
from emsync.telemetry.models import Alert, StoredReading
from emsync.telemetry.paediatric import PewsScored
from emsync.telemetry.readings import (
    DeviceStatus,
    Position,
    Reading,
    Vitals,
    parse_readings,
    refuse_future,
)
from emsync.telemetry.store import COUNTER_OFFSET, ReadingRow, ReadingStore, reading_aad
from emsync.telemetry.vitals import LatestValues, Scored

log = structlog.get_logger("emsync.telemetry.ingest")


class Inbound(NamedTuple):
    """One MQTT message as the network thread handed it over."""

    topic: str
    payload: bytes
    received: float  # time.monotonic() at receipt


class Refused(Exception):
    """A message refused for a reason the envelope module does not know (device, key)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _stored_replay_guard(session: AsyncSession, window: int) -> ReplayGuard:
    """A replay guard holding the stored counters: per (device, key id) the highest and those
    within `window` below it, so after a restart a stored message is refused as a replay, as
    before it, while one never stored is still accepted within the window. (The readings'
    unique key alone would only keep a replayed message from being stored twice: it would be
    scored and pushed again, and on PostgreSQL, where the key includes `ts`, another message
    reusing a stored counter would be stored.)"""
    top = await session.execute(
        select(
            StoredReading.device_id, StoredReading.key_id, func.max(StoredReading.counter)
        ).group_by(StoredReading.device_id, StoredReading.key_id)
    )
    # Bounds computed here, not in SQL: `max - window` would overflow a BIGINT near -2**63.
    lowest = {(d, k): max(int(c) - window + 1, -COUNTER_OFFSET) for d, k, c in top.all()}
    accepted: dict[tuple[str, int], list[int]] = {slot: [] for slot in lowest}
    slots = list(lowest.items())
    for i in range(0, len(slots), 100):  # each slot one index range scan
        rows = await session.execute(
            select(StoredReading.device_id, StoredReading.key_id, StoredReading.counter)
            .where(
                or_(
                    *(
                        and_(
                            StoredReading.device_id == d,
                            StoredReading.key_id == k,
                            StoredReading.counter >= low,
                        )
                        for (d, k), low in slots[i : i + 100]
                    )
                )
            )
            .distinct()
        )
        for d, k, c in rows.all():
            accepted[(d, k)].append(int(c) + COUNTER_OFFSET)
    return ReplayGuard(accepted, window=window)


class ReadingSealer:
    """`Keyring.seal` under the active master key, in the same format, for the hot path.

    `Keyring.seal` builds an AESGCM object (its key schedule) per call, about three quarters of
    the cost of sealing one reading; this keeps one for the life of the pipeline.
    """

    __slots__ = ("_aead", "_header")

    def __init__(self, keyring: Keyring) -> None:
        self._header = struct.pack(">BH", SEALED_VERSION, keyring.active_id)
        self._aead = AESGCM(keyring.keys[keyring.active_id])

    def seal_all(self, items: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """Each (plaintext, aad) sealed, with every nonce drawn in one `os.urandom` call.

        os.urandom releases the GIL, so one call per reading handed the GIL to the MQTT
        network thread once per reading; the nonces are as random, and each is used once.
        """
        size = NONCE_BYTES
        pool = os.urandom(size * len(items))
        header = self._header
        encrypt = self._aead.encrypt
        out = []
        for i, (plaintext, aad) in enumerate(items):
            nonce = pool[i * size : (i + 1) * size]
            out.append(header + nonce + encrypt(nonce, plaintext, aad))
        return out


UnsealedRow = tuple[str, int, int, int, str, str | None, Any, Any]  # a row before sealing


@dataclass(slots=True)
class BatchOutcome:
    accepted: int = 0  # readings newly stored
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class PreparedBatch:
    """A batch opened, checked, scored and sealed, ready to store (Pipeline.prepare)."""

    batch: Sequence[Inbound]
    outcome: BatchOutcome  # rejections so far; `commit` adds what storage accepted
    now: datetime
    rows: list[ReadingRow]
    seen: set[str]  # devices with a reading in the batch
    pushed: dict[tuple[str, str], list[dict[str, Any]]]  # (patient, device): values to push
    scores: dict[str, ScoreObservation]  # per patient
    fixes: dict[str, Position]  # newest position per device


class Pipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        bus: EventBus,
        metrics: TelemetryMetrics,
        cache: LatestValues,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._readings_sessions = sessions  # see use_storage
        self._keyring = keyring
        self._bus = bus
        self._metrics = metrics
        self._cache = cache
        self._clock = clock
        # Read-only sessions: on SQLite a session that may write queues for the write lock at
        # its first statement, and a device read then held the next batch's store back.
        self.devices = DeviceDirectory(
            read_session_factory(engine), keyring, settings.mqtt.device_cache_seconds
        )
        self.guard = ReplayGuard(window=settings.telemetry.replay_window)
        self._alerting: set[str] = set()  # patients with an open NEWS2 alert (as far as we know)
        self._sealer = ReadingSealer(keyring)
        self._store = ReadingStore(engine)
        tel = settings.telemetry
        self._window = timedelta(seconds=tel.news2_window_seconds)
        self._holdoff = timedelta(seconds=tel.alert_holdoff_seconds)
        self._ack_timeout = timedelta(seconds=tel.ack_timeout_seconds)
        self._min_band = tel.news2_alert_min_band
        self._max_skew = timedelta(seconds=tel.max_clock_skew_seconds)
        self._checks = ReadingChecks(cache, self._window)

    def use_storage(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Store readings and read devices through `engine` (an ingest on an event loop of its
        own, with connections of that loop: telemetry.ingest_thread). Alerts, raised by
        `announce`, stay with the engine the pipeline was made with."""
        self._readings_sessions = sessions
        self.devices.use(read_session_factory(engine))
        self._store = ReadingStore(engine)

    async def start(self) -> None:
        """Seed the replay guard and the set of patients with open alerts from storage."""
        async with self._readings_sessions() as session:
            self.guard = await _stored_replay_guard(session, self.guard.window)
            self._alerting = set(
                await session.scalars(
                    select(Alert.patient_id).where(
                        Alert.kind.in_([AlertKind.NEWS2.value, AlertKind.PEWS.value]),
                        Alert.status != AlertStatus.RESOLVED.value,
                    )
                )
            )

    def _reject(self, outcome: BatchOutcome, reason: str, device: str | None) -> None:
        outcome.rejected[reason] = outcome.rejected.get(reason, 0) + 1
        self._metrics.rejected.labels(reason=reason).inc()
        # Device id and reason only: never the payload or its values (PHI).
        log.warning("telemetry message refused", reason=reason, device_id=device)

    def _open(self, sealed: SealedReading, now: datetime) -> tuple[bytes, DeviceView]:
        view = self.devices.get(sealed.device_id)
        if view is None:
            raise Refused("unknown_device")
        if view.revoked:
            raise Refused("revoked_device")
        key = view.keys.get(sealed.key_id)
        if key is None:
            raise Refused("unknown_key")
        if not key.validity.accepts(now):
            raise Refused("key_expired" if key.validity.revoked_at is None else "revoked_key")
        if key.algorithm != sealed.algorithm:
            raise Refused("wrong_algorithm")
        return envelope.open_envelope(sealed, key.key), view

    async def handle(self, batch: Sequence[Inbound]) -> BatchOutcome:
        """`prepare` then `commit`: one batch, start to end."""
        return await self.commit(await self.prepare(batch))

    def _admit(
        self, sealed: SealedReading, now: datetime, outcome: BatchOutcome
    ) -> tuple[tuple[Reading, ...], DeviceView] | None:
        """The readings of one message and its device's view, or None when it is refused
        (counted in `outcome`): unopenable, replayed (against this batch, the batches prepared
        before it and the stored counters), unreadable, or from the future. An accepted
        message's counter is taken in the replay guard."""
        try:
            plaintext, view = self._open(sealed, now)
            self.guard.check(sealed)
            readings = parse_readings(sealed.kind, plaintext)
            refuse_future(readings, now=now, max_skew=self._max_skew)
            self.guard.admit(sealed)
        except EnvelopeRejected as exc:
            self._reject(outcome, exc.reason.value, sealed.device_id)
            return None
        except Refused as exc:
            self._reject(outcome, exc.reason, sealed.device_id)
            return None
        return readings, view

    async def prepare(self, batch: Sequence[Inbound]) -> PreparedBatch:
        """Open, check, score and seal a batch: everything but storing it. Its counters count
        as taken for the replay check of the batches prepared after it (`commit` must follow,
        in order, and be retried until it succeeds); the latest-value cache is updated here."""
        outcome = BatchOutcome()
        now = self._clock()
        parsed: list[SealedReading] = []
        for msg in batch:
            try:
                parsed.append(envelope.parse(msg.topic, msg.payload))
            except EnvelopeRejected as exc:
                self._reject(outcome, exc.reason.value, None)
        await self.devices.ensure(s.device_id for s in parsed)

        unsealed: list[UnsealedRow] = []  # rows without their sealed values, added below
        plain: list[tuple[bytes, bytes]] = []  # (values JSON, aad) of each row, to seal
        seen: set[str] = set()  # devices with a reading in this batch
        pushed: dict[tuple[str, str], list[dict[str, Any]]] = {}
        scores: dict[str, ScoreObservation] = {}
        convert_time = self._store.convert_time
        received_at = convert_time(now)
        dumps = orjson.dumps
        fixes: dict[str, Position] = {}
        for sealed in parsed:
            device_id = sealed.device_id
            admitted = self._admit(sealed, now, outcome)
            if admitted is None:
                continue
            readings, view = admitted
            seen.add(device_id)
            patient_id = view.patient_id
            kind = sealed.kind.value
            key_id = sealed.key_id
            stored_counter = sealed.counter - COUNTER_OFFSET
            push = (
                pushed.setdefault((patient_id, device_id), [])
                if patient_id is not None and sealed.kind is Kind.VITALS
                else None
            )
            for idx, reading in enumerate(readings):
                for problem in reading.rejected:
                    self._metrics.fields_rejected.labels(
                        field=problem.field, problem=problem.problem.value
                    ).inc()
                ts_text = reading.ts.isoformat() if push is not None else None
                values = self._values(reading, patient_id, view, scores, ts_text)
                unsealed.append(
                    (
                        device_id,
                        key_id,
                        stored_counter,
                        idx,
                        kind,
                        patient_id,
                        convert_time(reading.ts),
                        received_at,
                    )
                )
                plain.append((dumps(values), reading_aad(device_id, key_id, sealed.counter, idx)))
                if push is not None:
                    values["ts"] = ts_text
                    push.append(values)
                elif type(reading) is Position and reading.lat is not None:
                    newest = fixes.get(device_id)
                    if newest is None or reading.ts >= newest.ts:
                        fixes[device_id] = reading

        rows: list[ReadingRow] = [
            (*row, sealed_values)
            for row, sealed_values in zip(unsealed, self._sealer.seal_all(plain), strict=True)
        ]
        return PreparedBatch(batch, outcome, now, rows, seen, pushed, scores, fixes)

    async def commit(self, prepared: PreparedBatch) -> BatchOutcome:
        """Store a prepared batch, then raise its alerts and publish its events. Raises if
        storage fails: call it again (its counters stay taken, so the broker's redelivery of
        one of its messages meanwhile is refused as a replay, as before)."""
        await self.store(prepared)
        await self.announce(prepared)
        return prepared.outcome

    async def store(self, prepared: PreparedBatch) -> None:
        """`commit`'s first half: the batch durably stored (raises if not: call it again)."""
        outcome, rows = prepared.outcome, prepared.rows
        if rows:
            outcome.accepted = await self._store.store(rows, sorted(prepared.seen), prepared.now)
            outcome.duplicates = len(rows) - outcome.accepted

    def raises_alerts(self, prepared: PreparedBatch) -> bool:
        """Whether `announce` may write an alert for this stored batch (a patient's score is in
        an alerting band, or the patient has an open alert): the batch must not be acknowledged
        before it has."""
        return bool(self._alert_relevant(prepared.scores))

    def _alert_relevant(self, scores: dict[str, ScoreObservation]) -> dict[str, ScoreObservation]:
        """The scores an alert may follow from: in an alerting band, or the patient's alert open."""
        return {p: o for p, o in scores.items() if o.level is not None or p in self._alerting}

    async def announce(self, prepared: PreparedBatch) -> None:
        """`commit`'s second half, once stored: raise its alerts (raises if they cannot be
        written: call it again), publish its events, count it."""
        outcome, now, rows, pushed, fixes = (
            prepared.outcome,
            prepared.now,
            prepared.rows,
            prepared.pushed,
            prepared.fixes,
        )
        events: list[Event] = [
            VitalsReceived(patient_id=p, device_id=d, readings=tuple(r))
            for (p, d), r in pushed.items()
            if r
        ]
        if rows:
            events.extend(
                PositionReceived(
                    device_id=d, lat=lat, lon=lon, at=f.ts, speed_mps=f.speed, heading=f.heading
                )
                for d, f in fixes.items()
                if (lat := f.lat) is not None and (lon := f.lon) is not None
            )
        events.extend(await self._alerts(prepared.scores, now))
        await self._bus.publish(*events)
        self._record_metrics(prepared.batch, outcome)

    def _values(
        self,
        reading: Vitals | Position | DeviceStatus,
        patient_id: str | None,
        view: DeviceView,
        scores: dict[str, ScoreObservation],
        ts_text: str | None,
    ) -> dict[str, Any]:
        """The values stored (and pushed) of one reading; `ts_text`: its ts.isoformat() if known."""
        if type(reading) is Vitals:
            values: dict[str, Any] = {}
            if reading.hr is not None:
                values["hr"] = reading.hr
            if reading.spo2 is not None:
                values["spo2"] = reading.spo2
            if reading.rr is not None:
                values["rr"] = reading.rr
            if reading.sbp is not None:
                values["sbp"] = reading.sbp
            if reading.dbp is not None:
                values["dbp"] = reading.dbp
            if reading.temp is not None:
                values["temp"] = reading.temp
            if reading.o2 is not None:
                values["o2"] = reading.o2
            if reading.avpu is not None:
                values["avpu"] = reading.avpu.value
            if patient_id is not None:
                scored = self._checks.apply(
                    patient_id,
                    reading.ts,
                    values,
                    age_years=view.age_years,
                    spo2_scale=view.spo2_scale,
                )
                if scored is not None:
                    self._observe(patient_id, scored, values, scores, ts_text)
            return values
        if type(reading) is Position:
            return {
                k: v
                for k, v in (
                    ("lat", reading.lat),
                    ("lon", reading.lon),
                    ("speed", reading.speed),
                    ("heading", reading.heading),
                )
                if v is not None
            }
        assert isinstance(reading, DeviceStatus)
        return dict(reading.attributes)

    def _observe(
        self,
        patient_id: str,
        scored: Scored | PewsScored,
        values: dict[str, Any],
        scores: dict[str, ScoreObservation],
        ts_text: str | None,
    ) -> None:
        detail = scored.as_dict(ts_text)
        values[detail_key(scored)] = detail
        level = alert_level(scored.band, self._min_band)
        observed = scores.get(patient_id)
        if observed is None:
            scores[patient_id] = ScoreObservation(level, detail, detail, scored.ts)
        else:
            observed.add(level, detail, scored.ts)

    async def _alerts(self, scores: dict[str, ScoreObservation], now: datetime) -> list[Event]:
        relevant = self._alert_relevant(scores)
        if not relevant:
            return []
        events: list[AlertChanged] = []
        async with self._sessions() as session:
            for kind in (AlertKind.NEWS2, AlertKind.PEWS):
                of_kind = {p: o for p, o in relevant.items() if alert_kind(o.worst) is kind}
                events += await alerting.observe_news2(
                    session=session,
                    keyring=self._keyring,
                    observations=of_kind,
                    holdoff=self._holdoff,
                    ack_timeout=self._ack_timeout,
                    now=now,
                    kind=kind,
                )
            follow = await self._bus.stage(session, events)  # pages open with their alerts
            await session.commit()
        for p, obs in relevant.items():
            if obs.level is not None:
                self._alerting.add(p)
        for event in events:
            if event.status == AlertStatus.RESOLVED.value:
                self._alerting.discard(event.patient_id)
        return [*events, *follow]

    def _record_metrics(self, batch: Sequence[Inbound], outcome: BatchOutcome) -> None:
        m = self._metrics
        m.batch_size.observe(len(batch))
        if outcome.accepted:
            m.accepted.inc(outcome.accepted)
        if outcome.duplicates:
            m.duplicates.inc(outcome.duplicates)
        done = time.monotonic()
        observe_all(m.latency, [done - msg.received for msg in batch])
