"""Telemetry use cases: devices and their keys, vitals queries, the alert lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.schemas import Page
from emsync.core.uow import UnitOfWork
from emsync.incidents import get_incident, get_patient
from emsync.telemetry import keys as device_keys
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.alerts import (
    RANK,
    AlertAction,
    AlertKind,
    AlertLevel,
    AlertStatus,
    Decision,
    OpenAlert,
    ResolvedAlert,
    ScoreObservation,
    decide,
    next_status,
    scored_detail,
)
from emsync.telemetry.envelope import MAX_KEY_ID, Kind, topic_for
from emsync.telemetry.events import AlertChanged, DeviceChanged, DeviceRegistered
from emsync.telemetry.models import Alert, Device, DeviceKey, StoredReading
from emsync.telemetry.schemas import (
    AlertRead,
    DeviceAlgorithm,
    DeviceBind,
    DeviceCreate,
    DeviceKeyRead,
    DeviceProvisioned,
    DeviceRead,
    DeviceType,
    DeviceUpdate,
    FieldValue,
    LatestVitals,
    News2Read,
    ProvisionedKey,
    SeriesPoint,
    VitalsHistory,
    VitalsReading,
)
from emsync.telemetry.vitals import (
    NUMERIC_FIELDS,
    VITAL_FIELDS,
    LatestValues,
    downsample,
    score,
)

COUNTER_OFFSET = 2**63  # uint64 envelope counter <-> signed BIGINT column
MAX_HISTORY_READINGS = 200_000


# ---------------------------------------------------------------- devices and keys


def _device_read(device: Device, keys: Sequence[DeviceKey]) -> DeviceRead:
    return DeviceRead(
        id=device.id,
        type=DeviceType(device.type),
        label=device.label,
        algorithm=DeviceAlgorithm.of(device.algorithm),
        patient_id=device.patient_id,
        incident_id=device.incident_id,
        unit_id=device.unit_id,
        spo2_scale=device.spo2_scale,
        active_key_id=device.active_key_id,
        keys=[
            DeviceKeyRead(
                key_id=k.key_id,
                algorithm=DeviceAlgorithm.of(k.algorithm),
                created_at=as_utc(k.created_at),
                expires_at=as_utc(k.expires_at) if k.expires_at else None,
                revoked_at=as_utc(k.revoked_at) if k.revoked_at else None,
            )
            for k in sorted(keys, key=lambda k: k.key_id)
        ],
        created_at=as_utc(device.created_at),
        bound_at=as_utc(device.bound_at) if device.bound_at else None,
        last_seen_at=as_utc(device.last_seen_at) if device.last_seen_at else None,
        revoked_at=as_utc(device.revoked_at) if device.revoked_at else None,
    )


async def _keys_of(session: AsyncSession, device_id: str) -> list[DeviceKey]:
    rows = await session.scalars(select(DeviceKey).where(DeviceKey.device_id == device_id))
    return list(rows)


async def _device(session: AsyncSession, device_id: str, *, for_update: bool = False) -> Device:
    device = await session.get(Device, device_id, with_for_update=for_update)
    if device is None:
        raise NotFound(f"device {device_id} does not exist")
    return device


async def get_device(*, session: AsyncSession, device_id: str) -> DeviceRead:
    device = await _device(session, device_id)
    return _device_read(device, await _keys_of(session, device_id))


def _provisioned(device_id: str, key_id: int, algorithm: Algorithm, key: bytes) -> ProvisionedKey:
    return ProvisionedKey(
        device_id=device_id,
        key_id=key_id,
        algorithm=DeviceAlgorithm.of(algorithm),
        algorithm_code=int(algorithm),
        key_hex=key.hex(),
        topic=topic_for(device_id, Kind.VITALS),
    )


async def register_device(
    *, uow: UnitOfWork, keyring: Keyring, data: DeviceCreate, actor: str, now: datetime
) -> DeviceProvisioned:
    """Register a device with its first key (key id 1), returned in clear this once."""
    session = uow.session
    if await session.get(Device, data.id) is not None:
        raise Conflict(f"device {data.id} already exists")
    algorithm = data.algorithm.code
    key = device_keys.new_device_key(algorithm)
    device = Device(
        id=data.id,
        type=data.type.value,
        label=data.label,
        algorithm=int(algorithm),
        spo2_scale=1,
        active_key_id=1,
        created_at=now,
        updated_at=now,
    )
    stored = DeviceKey(
        device_id=data.id,
        key_id=1,
        algorithm=int(algorithm),
        wrapped=device_keys.wrap(keyring, device_id=data.id, key_id=1, key=key),
        created_at=now,
    )
    session.add(device)
    await session.flush()
    session.add(stored)
    uow.record(DeviceRegistered(device_id=data.id, type=data.type.value, actor=actor))
    try:
        await uow.commit()
    except IntegrityError:
        await uow.rollback()
        raise Conflict(f"device {data.id} already exists") from None
    return DeviceProvisioned(
        device=_device_read(device, [stored]), key=_provisioned(data.id, 1, algorithm, key)
    )


async def list_devices(
    *, session: AsyncSession, patient_id: str | None, limit: int, offset: int
) -> Page[DeviceRead]:
    where = [] if patient_id is None else [Device.patient_id == patient_id]
    total = await session.scalar(select(func.count()).select_from(Device).where(*where)) or 0
    devices = list(
        await session.scalars(
            select(Device).where(*where).order_by(Device.id).limit(limit).offset(offset)
        )
    )
    keys: dict[str, list[DeviceKey]] = {d.id: [] for d in devices}
    if devices:
        for k in await session.scalars(
            select(DeviceKey).where(DeviceKey.device_id.in_(list(keys)))
        ):
            keys[k.device_id].append(k)
    items = [_device_read(d, keys[d.id]) for d in devices]
    return Page(items=items, total=total, limit=limit, offset=offset)


async def update_device(
    *, uow: UnitOfWork, device_id: str, data: DeviceUpdate, now: datetime
) -> DeviceRead:
    device = await _device(uow.session, device_id, for_update=True)
    if "label" in data.model_fields_set:
        device.label = data.label
    device.updated_at = now
    await uow.commit()
    return _device_read(device, await _keys_of(uow.session, device_id))


async def delete_device(*, uow: UnitOfWork, device_id: str, actor: str) -> None:
    """Remove a device and its keys; its stored readings stay (they belong to the patient)."""
    device = await _device(uow.session, device_id, for_update=True)
    patient_id = device.patient_id
    await uow.session.execute(delete(DeviceKey).where(DeviceKey.device_id == device_id))
    await uow.session.delete(device)
    uow.record(
        DeviceChanged(device_id=device_id, change="deleted", patient_id=patient_id, actor=actor)
    )
    await uow.commit()


async def bind_device(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    device_id: str,
    data: DeviceBind,
    actor: str,
    now: datetime,
) -> DeviceRead:
    session = uow.session
    device = await _device(session, device_id, for_update=True)
    if device.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked")
    if data.patient_id is not None:
        # NotFound (404) from the incidents domain when there is no such patient.
        await get_patient(session=session, keyring=keyring, patient_id=data.patient_id)
    if data.incident_id is not None:
        await get_incident(session=session, keyring=keyring, incident_id=data.incident_id)
    device.patient_id = data.patient_id
    device.incident_id = data.incident_id
    device.unit_id = data.unit_id
    device.spo2_scale = data.spo2_scale
    device.bound_at = now
    device.updated_at = now
    uow.record(
        DeviceChanged(device_id=device_id, change="bound", patient_id=data.patient_id, actor=actor)
    )
    await uow.commit()
    return _device_read(device, await _keys_of(session, device_id))


async def unbind_device(
    *, uow: UnitOfWork, device_id: str, actor: str, now: datetime
) -> DeviceRead:
    session = uow.session
    device = await _device(session, device_id, for_update=True)
    old = device.patient_id
    device.patient_id = device.incident_id = device.unit_id = None
    device.bound_at = None
    device.updated_at = now
    uow.record(DeviceChanged(device_id=device_id, change="unbound", patient_id=old, actor=actor))
    await uow.commit()
    return _device_read(device, await _keys_of(session, device_id))


async def rotate_key(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    device_id: str,
    grace: timedelta,
    actor: str,
    now: datetime,
) -> ProvisionedKey:
    """A new key id becomes active; the previous one is accepted until `now + grace`."""
    session = uow.session
    device = await _device(session, device_id, for_update=True)
    if device.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked")
    keys = await _keys_of(session, device_id)
    new_key_id = max((k.key_id for k in keys), default=0) + 1
    if new_key_id > MAX_KEY_ID:
        raise Conflict("the device has used every key id; register it again under a new id")
    for k in keys:
        if k.revoked_at is None and (k.expires_at is None or as_utc(k.expires_at) > now + grace):
            k.expires_at = now + grace
    algorithm = Algorithm(device.algorithm)
    key = device_keys.new_device_key(algorithm)
    session.add(
        DeviceKey(
            device_id=device_id,
            key_id=new_key_id,
            algorithm=int(algorithm),
            wrapped=device_keys.wrap(keyring, device_id=device_id, key_id=new_key_id, key=key),
            created_at=now,
        )
    )
    device.active_key_id = new_key_id
    device.updated_at = now
    uow.record(
        DeviceChanged(
            device_id=device_id, change="key_rotated", patient_id=device.patient_id, actor=actor
        )
    )
    await uow.commit()
    return _provisioned(device_id, new_key_id, algorithm, key)


async def revoke_device(
    *, uow: UnitOfWork, device_id: str, actor: str, now: datetime
) -> DeviceRead:
    """Refuse every key of the device from now on and unbind it (a lost or stolen device)."""
    session = uow.session
    device = await _device(session, device_id, for_update=True)
    if device.revoked_at is not None:
        raise Conflict(f"device {device_id} is already revoked")
    keys = await _keys_of(session, device_id)
    for k in keys:
        if k.revoked_at is None:
            k.revoked_at = now
    old = device.patient_id
    device.revoked_at = now
    device.patient_id = device.incident_id = device.unit_id = None
    device.bound_at = None
    device.active_key_id = None
    device.updated_at = now
    uow.record(DeviceChanged(device_id=device_id, change="revoked", patient_id=old, actor=actor))
    await uow.commit()
    return _device_read(device, keys)


async def revoke_key(
    *, uow: UnitOfWork, device_id: str, key_id: int, actor: str, now: datetime
) -> DeviceRead:
    session = uow.session
    device = await _device(session, device_id, for_update=True)
    key = await session.get(DeviceKey, (device_id, key_id))
    if key is None:
        raise NotFound(f"device {device_id} has no key {key_id}")
    if key.revoked_at is not None:
        raise Conflict(f"key {key_id} is already revoked")
    key.revoked_at = now
    if device.active_key_id == key_id:
        device.active_key_id = None
    device.updated_at = now
    uow.record(
        DeviceChanged(
            device_id=device_id, change="key_revoked", patient_id=device.patient_id, actor=actor
        )
    )
    await uow.commit()
    return _device_read(device, await _keys_of(session, device_id))


async def rewrap_device_keys(*, session: AsyncSession, keyring: Keyring) -> int:
    """Re-seal every stored device key under the active master key; returns how many changed.

    Runs beside live ingest: each row is rewritten in place and stays readable by any process
    whose keyring holds both the old and the new master key id.
    """
    changed = 0
    rows = list(await session.scalars(select(DeviceKey)))
    for row in rows:
        new = device_keys.rewrap(
            keyring, device_id=row.device_id, key_id=row.key_id, wrapped=row.wrapped
        )
        if new is not None:
            row.wrapped = new
            changed += 1
    await session.commit()
    return changed


# ---------------------------------------------------------------- vitals


def reading_aad(device_id: str, key_id: int, counter: int, idx: int) -> bytes:
    return f"telemetry.reading:{device_id}:{key_id}:{counter}:{idx}".encode()


def open_reading(keyring: Keyring, row: Any) -> dict[str, Any]:
    """The sealed values of one stored row (columns device_id, key_id, counter, idx, sealed)."""
    aad = reading_aad(row.device_id, row.key_id, row.counter + COUNTER_OFFSET, row.idx)
    value: dict[str, Any] = orjson.loads(keyring.open(row.sealed, aad=aad))
    return value


_READING_COLUMNS = (
    StoredReading.device_id,
    StoredReading.key_id,
    StoredReading.counter,
    StoredReading.idx,
    StoredReading.ts,
    StoredReading.sealed,
)


def _vitals_reading(row: Any, values: dict[str, Any]) -> VitalsReading:
    news = values.get("news2")
    pews = values.get("pews")
    return VitalsReading(
        ts=as_utc(row.ts),
        device_id=row.device_id,
        hr=values.get("hr"),
        spo2=values.get("spo2"),
        rr=values.get("rr"),
        sbp=values.get("sbp"),
        dbp=values.get("dbp"),
        temp=values.get("temp"),
        o2=values.get("o2"),
        avpu=values.get("avpu"),
        news2=news["total"] if news else None,
        band=news["band"] if news else pews["band"] if pews else None,
        pews=pews["total"] if pews else None,
        artefacts=values.get("artefacts") or [],
    )


async def latest_vitals(
    *,
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    cache: LatestValues | None,
    window: timedelta,
    spo2_scale: int = 1,
) -> LatestVitals:
    """From this process's latest-value cache when it holds the patient, else from storage."""
    fields = cache.get(patient_id) if cache is not None else None
    if fields is None:
        rows = (
            await session.execute(
                select(*_READING_COLUMNS)
                .where(StoredReading.patient_id == patient_id, StoredReading.kind == "vitals")
                .order_by(StoredReading.ts.desc())
                .limit(50)
            )
        ).all()
        if not rows:
            raise NotFound(f"no vitals stored for patient {patient_id}")
        rebuilt = LatestValues()
        for row in reversed(rows):
            values = open_reading(keyring, row)
            rebuilt.update(
                patient_id,
                as_utc(row.ts),
                {k: values.get(k) for k in (*NUMERIC_FIELDS, "o2", "avpu")},
            )
        fields = rebuilt.get(patient_id) or {}
    latest_ts = max(ts for _, ts in fields.values())
    scored = score(fields, at=latest_ts, window=window, spo2_scale=spo2_scale)
    return LatestVitals(
        patient_id=patient_id,
        values={name: FieldValue(value=v, ts=ts) for name, (v, ts) in fields.items()},
        news2=None
        if scored is None
        else News2Read(
            total=scored.total,
            band=scored.band,
            subscores=list(scored.subscores),
            assumed=list(scored.assumed),
            ts=scored.ts,
        ),
    )


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
                select(*_READING_COLUMNS)
                .where(where)
                .order_by(StoredReading.ts, StoredReading.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        items = [_vitals_reading(r, open_reading(keyring, r)) for r in rows]
        return VitalsHistory(
            patient_id=patient_id,
            start=start,
            end=end,
            total=total,
            limit=limit,
            offset=offset,
            items=items,
        )
    if total > MAX_HISTORY_READINGS:
        raise ValidationFailed(
            f"{total} readings in range; narrow it to at most {MAX_HISTORY_READINGS}"
        )
    rows = (
        await session.execute(select(*_READING_COLUMNS).where(where).order_by(StoredReading.ts))
    ).all()
    columns: dict[str, list[tuple[datetime, float]]] = {name: [] for name in NUMERIC_FIELDS}
    columns["news2"] = []
    for row in rows:
        values = open_reading(keyring, row)
        ts = as_utc(row.ts)
        for name in NUMERIC_FIELDS:
            v = values.get(name)
            if v is not None:
                columns[name].append((ts, float(v)))
        if values.get("news2"):
            columns["news2"].append((ts, float(values["news2"]["total"])))
    series = {
        name: [
            SeriesPoint(ts=t, value=round(v, 3), n=n)
            for t, v, n in downsample(pts, start=start, end=end, n=points)
        ]
        for name, pts in columns.items()
        if pts
    }
    return VitalsHistory(
        patient_id=patient_id,
        start=start,
        end=end,
        total=total,
        limit=limit,
        offset=offset,
        items=[],
        series=series,
    )


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
    sbp, dbp, temp, o2, avpu; only those present). Opened here, never logged."""
    rows = (
        await session.execute(
            select(*_READING_COLUMNS)
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
        readings.append(
            (as_utc(row.ts), {k: values[k] for k in VITAL_FIELDS if values.get(k) is not None})
        )
    return readings


# ---------------------------------------------------------------- alerts


def _alert_detail_aad(alert_id: str) -> bytes:
    return f"telemetry.alert:{alert_id}".encode()


def _alert_read(alert: Alert, keyring: Keyring) -> AlertRead:
    scores: dict[str, Any] = {}
    if alert.detail_sealed is not None:
        detail = orjson.loads(keyring.open(alert.detail_sealed, aad=_alert_detail_aad(alert.id)))
        # Alerts raised before peaks were kept hold one score: it is their peak as well.
        peak = detail.get("peak") or detail
        child = detail.get("scale") == "bedside-pews"  # a child's: never shown as NEWS2
        scores = {
            "pews" if child else "news2": detail.get("total"),
            "band": detail.get("band"),
            "scored_at": detail.get("ts"),
            "peak": peak.get("total"),
            "peak_band": peak.get("band"),
            "peak_at": peak.get("ts"),
        }
    return AlertRead(
        id=alert.id,
        patient_id=alert.patient_id,
        kind=alert.kind,
        scope=alert.scope,
        level=alert.level,
        status=alert.status,
        raised_at=as_utc(alert.raised_at),
        updated_at=as_utc(alert.updated_at),
        acknowledged_at=as_utc(alert.acknowledged_at) if alert.acknowledged_at else None,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=as_utc(alert.resolved_at) if alert.resolved_at else None,
        resolved_by=alert.resolved_by,
        escalation_step=alert.escalation_step,
        escalated_to=alert.escalated_to,
        **scores,
    )


def _changed(alert: Alert, change: str, actor: str, now: datetime) -> AlertChanged:
    return AlertChanged(
        alert_id=alert.id,
        patient_id=alert.patient_id,
        kind=alert.kind,
        level=alert.level,
        status=alert.status,
        change=change,
        actor=actor,
        at=now,
        escalated_to=alert.escalated_to,
    )


async def list_alerts(
    *,
    session: AsyncSession,
    keyring: Keyring,
    statuses: Sequence[AlertStatus],
    patient_id: str | None,
    limit: int,
    offset: int,
) -> Page[AlertRead]:
    where: list[ColumnElement[bool]] = []
    if statuses:
        where.append(Alert.status.in_([s.value for s in statuses]))
    if patient_id is not None:
        where.append(Alert.patient_id == patient_id)
    total = await session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    # Most severe first (high, medium, low-medium or stale, low), newest first within a level.
    severity = case({str(level): rank for level, rank in RANK.items()}, value=Alert.level, else_=0)
    rows = await session.scalars(
        select(Alert)
        .where(*where)
        .order_by(severity.desc(), Alert.raised_at.desc(), Alert.id)
        .limit(limit)
        .offset(offset)
    )
    return Page(
        items=[_alert_read(a, keyring) for a in rows], total=total, limit=limit, offset=offset
    )


async def _move_alert(
    *,
    uow: UnitOfWork,
    keyring: Keyring,
    alert_id: str,
    action: AlertAction,
    actor: str,
    now: datetime,
) -> AlertRead:
    alert = await uow.session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    target = next_status(AlertStatus(alert.status), action)
    if target is None:
        raise InvalidTransition(f"an alert that is {alert.status} cannot {action.value}")
    alert.status = target.value
    alert.updated_at = now
    if action is AlertAction.ACKNOWLEDGE:
        alert.acknowledged_at, alert.acknowledged_by, alert.escalate_at = now, actor, None
        change = "acknowledged"
    else:
        alert.resolved_at, alert.resolved_by, alert.escalate_at = now, actor, None
        change = "resolved"
    uow.record(_changed(alert, change, actor, now))
    await uow.commit()
    return _alert_read(alert, keyring)


async def acknowledge_alert(
    *, uow: UnitOfWork, keyring: Keyring, alert_id: str, actor: str, now: datetime
) -> AlertRead:
    return await _move_alert(
        uow=uow,
        keyring=keyring,
        alert_id=alert_id,
        action=AlertAction.ACKNOWLEDGE,
        actor=actor,
        now=now,
    )


async def resolve_alert(
    *, uow: UnitOfWork, keyring: Keyring, alert_id: str, actor: str, now: datetime
) -> AlertRead:
    return await _move_alert(
        uow=uow,
        keyring=keyring,
        alert_id=alert_id,
        action=AlertAction.RESOLVE,
        actor=actor,
        now=now,
    )


SYSTEM_ACTOR = "system:telemetry"


async def observe_news2(
    *,
    session: AsyncSession,
    keyring: Keyring,
    observations: dict[str, ScoreObservation],
    holdoff: timedelta,
    ack_timeout: timedelta,
    now: datetime,
    kind: AlertKind = AlertKind.NEWS2,
) -> list[AlertChanged]:
    """Apply one batch's NEWS2 (or, for children, PEWS) scores per patient to their alerts of
    that `kind`; caller commits.

    The worst reading's level decides raising and resolving (alerts.decide); an open alert's
    score follows the newest reading, with the highest since it was raised kept as its peak, so
    the alert never shows a score the patient no longer has.
    """
    if not observations:
        return []
    cutoff = now - holdoff
    rows = list(
        await session.scalars(
            select(Alert).where(
                Alert.patient_id.in_(list(observations)),
                Alert.kind == kind.value,
                or_(Alert.status != AlertStatus.RESOLVED.value, Alert.resolved_at >= cutoff),
            )
        )
    )
    open_by: dict[str, Alert] = {}
    resolved_by: dict[str, Alert] = {}
    for row in rows:
        if row.status != AlertStatus.RESOLVED.value:
            open_by[row.patient_id] = row
        else:
            prev = resolved_by.get(row.patient_id)
            if prev is None or as_utc(prev.resolved_at or now) < as_utc(row.resolved_at or now):
                resolved_by[row.patient_id] = row
    events: list[AlertChanged] = []
    for patient_id, observed in observations.items():
        current = open_by.get(patient_id)
        last = resolved_by.get(patient_id)
        decision = decide(
            open_alert=None
            if current is None
            else OpenAlert(
                level=current.level,
                status=AlertStatus(current.status),
                cleared_at=as_utc(current.cleared_at) if current.cleared_at else None,
            ),
            observed=observed.level,
            now=now,
            holdoff=holdoff,
            last_resolved=None
            if last is None or last.resolved_at is None
            else ResolvedAlert(level=last.level, resolved_at=as_utc(last.resolved_at)),
        )
        if decision is Decision.RAISE:
            assert observed.level is not None
            events.append(
                _raise(session, keyring, patient_id, kind, observed, now, now + ack_timeout)
            )
            continue
        if current is None:
            continue
        change = _apply(current, decision, observed, now, ack_timeout)
        if _rescore(current, keyring, observed) and change is None:
            change = "score_changed"  # the tile and the alert list show the new score
        if change is not None:
            current.updated_at = now
            events.append(_changed(current, change, SYSTEM_ACTOR, now))
    await session.flush()
    return events


def _raise(
    session: AsyncSession,
    keyring: Keyring,
    patient_id: str,
    kind: AlertKind,
    observed: ScoreObservation,
    now: datetime,
    escalate_at: datetime,
) -> AlertChanged:
    assert observed.level is not None
    alert_id = new_id()
    detail = scored_detail(None, observed)
    alert = Alert(
        id=alert_id,
        patient_id=patient_id,
        kind=kind.value,
        scope="",
        level=observed.level.value,
        status=AlertStatus.RAISED.value,
        raised_at=now,
        updated_at=now,
        escalation_step=0,
        escalate_at=escalate_at,
        detail_sealed=None
        if detail is None
        else keyring.seal(orjson.dumps(detail), aad=_alert_detail_aad(alert_id)),
    )
    session.add(alert)
    return _changed(alert, "raised", SYSTEM_ACTOR, now)


def _apply(
    alert: Alert,
    decision: Decision,
    observed: ScoreObservation,
    now: datetime,
    ack_timeout: timedelta,
) -> str | None:
    """Apply a decision about an open alert; the change to announce, if any."""
    if decision is Decision.RAISE_LEVEL:
        assert observed.level is not None
        alert.level = observed.level.value
        alert.status = AlertStatus.RAISED.value
        alert.cleared_at = None
        alert.escalate_at = now + ack_timeout
        return "level_raised"
    if decision is Decision.CLEAR:
        alert.cleared_at = now
    elif decision is Decision.UNCLEAR:
        alert.cleared_at = None
    elif decision is Decision.RESOLVE:
        alert.status = AlertStatus.RESOLVED.value
        alert.resolved_at = now
        alert.resolved_by = SYSTEM_ACTOR
        alert.escalate_at = None
        return "resolved"
    return None


def _rescore(alert: Alert, keyring: Keyring, observed: ScoreObservation) -> bool:
    """Put the batch's newest score (and any new peak) on the alert; True if either changed."""
    aad = _alert_detail_aad(alert.id)
    stored = (
        None
        if alert.detail_sealed is None
        else orjson.loads(keyring.open(alert.detail_sealed, aad=aad))
    )
    detail = scored_detail(stored, observed)
    if detail is None:
        return False
    changed = stored is None or (
        (stored.get("total"), (stored.get("peak") or stored).get("total"))
        != (detail["total"], detail["peak"]["total"])
    )
    # Only a changed score is written: a steady one costs no row update per batch.
    if changed:
        alert.detail_sealed = keyring.seal(orjson.dumps(detail), aad=aad)
    return changed


async def record_escalation(
    *, uow: UnitOfWork, alert_id: str, step: int, escalated_to: str, now: datetime
) -> bool:
    """The escalation policy (notifications) paged the next step for this alert: show it on the
    alert. False when the alert has moved on (acknowledged or resolved) meanwhile."""
    alert = await uow.session.get(Alert, alert_id, with_for_update=True)
    if alert is None or alert.status != AlertStatus.RAISED.value or step <= alert.escalation_step:
        return False
    alert.escalation_step = step
    alert.escalated_to = escalated_to[:32]
    alert.escalate_at = None  # the policy times the next step, not the alert
    alert.updated_at = now
    uow.record(_changed(alert, "escalated", SYSTEM_ACTOR, now))
    await uow.commit()
    return True


async def check_stale_devices(
    *, session: AsyncSession, stale_after: timedelta, ack_timeout: timedelta, now: datetime
) -> list[AlertChanged]:
    """Raise a stale-data alert for each bound device silent for `stale_after`; resolve it
    when data flows again. Caller commits."""
    devices = list(
        await session.scalars(
            select(Device).where(Device.patient_id.is_not(None), Device.revoked_at.is_(None))
        )
    )
    open_rows = {
        (a.patient_id, a.scope): a
        for a in await session.scalars(
            select(Alert).where(
                Alert.kind == AlertKind.STALE.value, Alert.status != AlertStatus.RESOLVED.value
            )
        )
    }
    events: list[AlertChanged] = []
    seen: set[tuple[str, str]] = set()
    for device in devices:
        assert device.patient_id is not None
        key = (device.patient_id, device.id)
        seen.add(key)
        bound_at = as_utc(device.bound_at or device.updated_at)
        last_seen = as_utc(device.last_seen_at) if device.last_seen_at else None
        since = last_seen if last_seen is not None and last_seen > bound_at else bound_at
        stale = now - since >= stale_after
        current = open_rows.get(key)
        if stale and current is None:
            alert = Alert(
                id=new_id(),
                patient_id=device.patient_id,
                kind=AlertKind.STALE.value,
                scope=device.id,
                level=AlertLevel.STALE.value,
                status=AlertStatus.RAISED.value,
                raised_at=now,
                updated_at=now,
                escalation_step=0,
                escalate_at=now + ack_timeout,
            )
            session.add(alert)
            events.append(_changed(alert, "raised", SYSTEM_ACTOR, now))
        elif not stale and current is not None:
            events.append(_auto_resolve(current, now))
    # A device unbound or revoked while its alert was open: nothing left to watch.
    for key, current in open_rows.items():
        if key not in seen:
            events.append(_auto_resolve(current, now))
    await session.flush()
    return events


def _auto_resolve(alert: Alert, now: datetime) -> AlertChanged:
    alert.status = AlertStatus.RESOLVED.value
    alert.resolved_at = now
    alert.resolved_by = SYSTEM_ACTOR
    alert.escalate_at = None
    alert.updated_at = now
    return _changed(alert, "resolved", SYSTEM_ACTOR, now)


async def open_alert_counts(*, session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Alert.level, func.count())
        .where(Alert.status != AlertStatus.RESOLVED.value)
        .group_by(Alert.level)
    )
    return {level: int(n) for level, n in rows.all()}


async def unacknowledged_alert_counts(*, session: AsyncSession) -> dict[str, int]:
    """Raised alerts nobody has acknowledged yet (escalated ones included), by level."""
    rows = await session.execute(
        select(Alert.level, func.count())
        .where(Alert.status == AlertStatus.RAISED.value)
        .group_by(Alert.level)
    )
    return {level: int(n) for level, n in rows.all()}
