"""Devices and their keys: registration, binding to a patient, key rotation and revocation,
and re-wrapping every device key under a rotated keyring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import Conflict, NotFound
from emsync.core.schemas import Page
from emsync.core.uow import UnitOfWork
from emsync.incidents import get_incident, get_patient
from emsync.telemetry import keys as device_keys
from emsync.telemetry.aead import Algorithm
from emsync.telemetry.envelope import MAX_KEY_ID, Kind, topic_for
from emsync.telemetry.events import DeviceChanged, DeviceRegistered
from emsync.telemetry.models import Device, DeviceKey
from emsync.telemetry.schemas import (
    DeviceAlgorithm,
    DeviceBind,
    DeviceCreate,
    DeviceKeyRead,
    DeviceProvisioned,
    DeviceRead,
    DeviceType,
    DeviceUpdate,
    ProvisionedKey,
)


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
