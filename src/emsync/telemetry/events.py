"""Telemetry events: devices, readings and clinical alerts (published after commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from emsync.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRegistered(Event):
    name: ClassVar[str] = "telemetry.device_registered"
    device_id: str
    type: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceChanged(Event):
    """Binding, key rotation, revocation: ingest drops its cached view of the device."""

    name: ClassVar[str] = "telemetry.device_changed"
    device_id: str
    change: str  # bound, unbound, key_provisioned, key_rotated, revoked, deleted
    patient_id: str | None
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VitalsReceived(Event):
    """New readings of one patient stored by one ingest batch. `readings` are plain dicts of
    the validated values with their NEWS2 (in memory only: never logged, PHI)."""

    name: ClassVar[str] = "telemetry.vitals_received"
    patient_id: str
    device_id: str
    readings: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionReceived(Event):
    """The newest stored GPS fix of a device in one ingest batch (dispatch moves its unit)."""

    name: ClassVar[str] = "telemetry.position_received"
    device_id: str
    lat: float
    lon: float
    at: datetime
    speed_mps: float | None
    heading: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChanged(Event):
    """Every alert change (raised, level_raised, score_changed, acknowledged, escalated,
    resolved). `score_changed`: an open alert's current or peak score moved (no page)."""

    name: ClassVar[str] = "telemetry.alert_changed"
    alert_id: str
    patient_id: str
    kind: str
    level: str
    status: str
    change: str
    actor: str
    at: datetime
    escalated_to: str | None = None
