"""Telemetry routes: devices and keys, vitals (latest, history), alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from emsync.auth.deps import requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.runtime import RuntimeDep, SessionDep, UowDep
from emsync.core.schemas import Page
from emsync.incidents import patient_ages
from emsync.telemetry import alerting, devices, service
from emsync.telemetry.alerts import AlertStatus
from emsync.telemetry.live_risk import RiskWatch
from emsync.telemetry.risk_scores import latest_risk
from emsync.telemetry.schemas import (
    AlertRead,
    DeviceBind,
    DeviceCreate,
    DeviceProvisioned,
    DeviceRead,
    DeviceUpdate,
    KeyRotate,
    LatestVitals,
    ProvisionedKey,
    RiskRead,
    VitalsHistory,
)
from emsync.telemetry.vitals import LatestValues

router = APIRouter(prefix="/api/telemetry", tags=["telemetry"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.post("/devices", response_model=DeviceProvisioned, status_code=201)
async def register_device(
    body: DeviceCreate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> DeviceProvisioned:
    """Register a device; the response carries its key in clear, this once only."""
    return await devices.register_device(
        uow=uow, keyring=runtime.keyring, data=body, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/devices", response_model=Page[DeviceRead])
async def list_devices(
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.DEVICES_READ)],
    patient_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DeviceRead]:
    return await devices.list_devices(
        session=session, patient_id=patient_id, limit=limit, offset=offset
    )


@router.get("/devices/{device_id}", response_model=DeviceRead)
async def get_device(
    device_id: str, session: SessionDep, _: Annotated[Principal, requires(Perm.DEVICES_READ)]
) -> DeviceRead:
    return await devices.get_device(session=session, device_id=device_id)


@router.patch("/devices/{device_id}", response_model=DeviceRead)
async def update_device(
    device_id: str,
    body: DeviceUpdate,
    runtime: RuntimeDep,
    uow: UowDep,
    _: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> DeviceRead:
    return await devices.update_device(uow=uow, device_id=device_id, data=body, now=runtime.clock())


@router.delete("/devices/{device_id}", status_code=204)
async def delete_device(
    device_id: str,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> Response:
    await devices.delete_device(uow=uow, device_id=device_id, actor=principal.audit_name)
    return Response(status_code=204)


@router.post("/devices/{device_id}/bind", response_model=DeviceRead)
async def bind_device(
    device_id: str,
    body: DeviceBind,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> DeviceRead:
    """Bind to a patient (its readings become theirs), an incident and/or a unit."""
    return await devices.bind_device(
        uow=uow,
        keyring=runtime.keyring,
        device_id=device_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/devices/{device_id}/unbind", response_model=DeviceRead)
async def unbind_device(
    device_id: str,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> DeviceRead:
    return await devices.unbind_device(
        uow=uow, device_id=device_id, actor=principal.audit_name, now=runtime.clock()
    )


@router.post("/devices/{device_id}/keys/rotate", response_model=ProvisionedKey, status_code=201)
async def rotate_key(
    device_id: str,
    body: KeyRotate,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> ProvisionedKey:
    """A new key (shown once); the old key id stays accepted for the grace period."""
    grace = (
        body.grace_seconds
        if body.grace_seconds is not None
        else runtime.settings.telemetry.key_grace_seconds
    )
    return await devices.rotate_key(
        uow=uow,
        keyring=runtime.keyring,
        device_id=device_id,
        grace=timedelta(seconds=grace),
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/devices/{device_id}/keys/{key_id}/revoke", response_model=DeviceRead)
async def revoke_key(
    device_id: str,
    # Key ids are uint16 on the wire (DESIGN §3.1); a larger one overflowed the query (500).
    key_id: Annotated[int, Path(ge=0, le=0xFFFF)],
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> DeviceRead:
    return await devices.revoke_key(
        uow=uow, device_id=device_id, key_id=key_id, actor=principal.audit_name, now=runtime.clock()
    )


@router.post("/devices/{device_id}/revoke", response_model=DeviceRead)
async def revoke_device(
    device_id: str,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.DEVICES_WRITE)],
) -> DeviceRead:
    """Refuse every key of a lost or compromised device from now on, and unbind it."""
    return await devices.revoke_device(
        uow=uow, device_id=device_id, actor=principal.audit_name, now=runtime.clock()
    )


@router.get("/patients/{patient_id}/vitals/latest", response_model=LatestVitals)
async def latest_vitals(
    patient_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.VITALS_READ)],
) -> LatestVitals:
    """The newest value of each parameter and the NEWS2 over them (a child: PEWS, never NEWS2),
    and the live deterioration risk with its trend (adults)."""
    window = timedelta(seconds=runtime.settings.telemetry.news2_window_seconds)
    ages = await patient_ages(session=session, patient_ids=[patient_id])
    shown = await service.latest_vitals(
        session=session,
        keyring=runtime.keyring,
        patient_id=patient_id,
        cache=runtime.find(LatestValues),
        window=window,
        age_years=ages.get(patient_id),
    )
    if shown.pews is not None:  # an adult ICU model: never for a child
        return shown
    # This process's own score is the freshest (not yet stored, perhaps); a separate API
    # process, or one just restarted, reads the stored one.
    watch = runtime.find(RiskWatch)
    score = None if watch is None else watch.latest(patient_id)
    risk = (
        RiskRead.model_validate(score.as_message())
        if score is not None
        else await latest_risk(session=session, keyring=runtime.keyring, patient_id=patient_id)
    )
    return shown if risk is None else shown.model_copy(update={"risk": risk})


@router.get("/patients/{patient_id}/vitals", response_model=VitalsHistory)
async def vitals_history(
    patient_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.VITALS_READ)],
    start: datetime,
    end: datetime,
    limit: Limit = 200,
    offset: Offset = 0,
    points: Annotated[
        int | None, Query(ge=1, le=5000, description="Downsample each series to N points")
    ] = None,
) -> VitalsHistory:
    """Readings in [start, end], oldest first, paginated; or with `points`, each parameter's
    series averaged into at most N time buckets for charts."""
    return await service.vitals_history(
        session=session,
        keyring=runtime.keyring,
        patient_id=patient_id,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
        points=points,
    )


@router.get("/alerts", response_model=Page[AlertRead])
async def list_alerts(
    runtime: RuntimeDep,
    session: SessionDep,
    _: Annotated[Principal, requires(Perm.ALERTS_READ)],
    status: Annotated[list[AlertStatus] | None, Query()] = None,
    patient_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AlertRead]:
    """Newest first."""
    return await alerting.list_alerts(
        session=session,
        keyring=runtime.keyring,
        statuses=status or (),
        patient_id=patient_id,
        limit=limit,
        offset=offset,
    )


@router.post("/alerts/{alert_id}/ack", response_model=AlertRead)
async def acknowledge_alert(
    alert_id: str,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.ALERTS_WRITE)],
) -> AlertRead:
    return await alerting.acknowledge_alert(
        uow=uow,
        keyring=runtime.keyring,
        alert_id=alert_id,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/alerts/{alert_id}/resolve", response_model=AlertRead)
async def resolve_alert(
    alert_id: str,
    runtime: RuntimeDep,
    uow: UowDep,
    principal: Annotated[Principal, requires(Perm.ALERTS_WRITE)],
) -> AlertRead:
    return await alerting.resolve_alert(
        uow=uow,
        keyring=runtime.keyring,
        alert_id=alert_id,
        actor=principal.audit_name,
        now=runtime.clock(),
    )
