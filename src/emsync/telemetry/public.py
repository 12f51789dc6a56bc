"""What other domains may call in telemetry, inside their own transaction.

Not re-exported from the package `__init__`: that would load the service (and SQLAlchemy) with
every pure telemetry module, which the import contracts forbid.
`register_telemetry_device` registers a device with its first key (intake registers a patient's
device at the bedside). `recent_vitals` reads a patient's stored (validated, sealed at rest)
vital-sign readings back, oldest first. `device_state` is a device's registration, binding
and last report (battery, signal), for the intake device agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import NotFound
from emsync.telemetry.devices import register_device as register_telemetry_device
from emsync.telemetry.models import Device
from emsync.telemetry.models import StoredReading as _Stored
from emsync.telemetry.schemas import DeviceCreate, DeviceProvisioned
from emsync.telemetry.service import recent_vitals
from emsync.telemetry.store import STORED_COLUMNS, open_reading


@dataclass(frozen=True, slots=True)
class DeviceState:
    id: str
    type: str
    label: str | None
    patient_id: str | None
    incident_id: str | None
    active_key_id: int | None
    bound_at: datetime | None
    last_seen_at: datetime | None
    revoked_at: datetime | None
    # The newest `status` message's values (battery, signal...) and when it was sent.
    status: dict[str, Any]
    status_at: datetime | None


async def device_state(*, session: AsyncSession, keyring: Keyring, device_id: str) -> DeviceState:
    """NotFound when there is no such device."""
    device = await session.get(Device, device_id)
    if device is None:
        raise NotFound(f"no device {device_id}")
    row = (
        await session.execute(
            select(*STORED_COLUMNS)
            .where(_Stored.device_id == device_id, _Stored.kind == "status")
            .order_by(_Stored.ts.desc(), _Stored.id.desc())
            .limit(1)
        )
    ).first()
    status = {} if row is None else open_reading(keyring, row)
    return DeviceState(
        id=device.id,
        type=device.type,
        label=device.label,
        patient_id=device.patient_id,
        incident_id=device.incident_id,
        active_key_id=device.active_key_id,
        bound_at=device.bound_at,
        last_seen_at=None if device.last_seen_at is None else as_utc(device.last_seen_at),
        revoked_at=device.revoked_at,
        status={k: v for k, v in status.items() if k != "ts"},
        status_at=None if row is None else as_utc(row.ts),
    )


async def devices_of_patient(*, session: AsyncSession, patient_id: str) -> list[str]:
    """Ids of the devices bound to an incident patient now (not revoked), newest binding first."""
    rows = await session.scalars(
        select(Device.id)
        .where(Device.patient_id == patient_id, Device.revoked_at.is_(None))
        .order_by(Device.bound_at.desc(), Device.id)
    )
    return list(rows)


__all__ = [
    "DeviceCreate",
    "DeviceProvisioned",
    "DeviceState",
    "device_state",
    "devices_of_patient",
    "recent_vitals",
    "register_telemetry_device",
]
