"""Telemetry's reactions: an alert acknowledged from a page (SMS link, reply, the paging screen)
is acknowledged here too, and each escalation step the policy fires is shown on the alert; a
patient's readings are pushed live, judged for artefacts over a window and scored by the
deterioration model; a changed device is
re-read by the pipeline; a tracker's GPS fix moves its ambulance (dispatch's hook); alerts
that change without an HTTP request still reach the audit log; every changed alert is pushed as
the alert list returns it."""

from __future__ import annotations

import json

from emsync.auth.audit import AuditLog, AuditRecord
from emsync.core.errors import InvalidTransition, NotFound
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.core.uow import UnitOfWork
from emsync.dispatch import record_device_position
from emsync.notifications.events import PageAcknowledged, PageEscalated
from emsync.telemetry import alerting
from emsync.telemetry.artefact_windows import ArtefactWindows
from emsync.telemetry.events import AlertChanged, DeviceChanged, PositionReceived, VitalsReceived
from emsync.telemetry.live_risk import RiskWatch
from emsync.telemetry.pipeline import Pipeline
from emsync.telemetry.store import pushed_reading

ALERT_SUBJECT = "telemetry.alert"
ALERTS_CHANNEL = "alerts"


async def acknowledge_alert_from_page(runtime: Runtime, event: PageAcknowledged) -> None:
    # "source": the page was stopped by this alert's own acknowledgement; nothing to do.
    if event.subject_kind != ALERT_SUBJECT or event.via == "source":
        return
    async with runtime.sessions() as session:
        try:
            await alerting.acknowledge_alert(
                uow=UnitOfWork(session, runtime.bus),
                keyring=runtime.keyring,
                alert_id=event.subject_id,
                actor=event.by,
                now=event.at,
            )
        except (InvalidTransition, NotFound):
            return  # acknowledged or resolved meanwhile: the page and alert agree already


async def show_escalation_on_alert(runtime: Runtime, event: PageEscalated) -> None:
    if event.subject_kind != ALERT_SUBJECT:
        return
    async with runtime.sessions() as session:
        await alerting.record_escalation(
            uow=UnitOfWork(session, runtime.bus),
            alert_id=event.subject_id,
            step=event.step,
            escalated_to=event.targets,
            now=event.at,
        )


async def push_vitals(runtime: Runtime, event: VitalsReceived) -> None:
    """The readings, scored, to `vitals:<patient_id>`."""
    device_id = event.device_id
    push = {  # a VitalsPush, as its model_dump(mode="json") has it (see pushed_reading)
        "patient_id": event.patient_id,
        "device_id": device_id,
        "readings": [pushed_reading(device_id, r) for r in event.readings],
    }
    runtime.get(Hub).publish(f"vitals:{event.patient_id}", "vitals", push)


async def push_alert(runtime: Runtime, event: AlertChanged) -> None:
    """The alert as it now is (`AlertRead`, message type "alert") to `alerts`: the same schema
    GET /api/alerts lists, so the dashboard applies it without asking again."""
    if not runtime.get(Hub).listened(ALERTS_CHANNEL):
        return  # no one to tell: no read on the ingest path
    async with runtime.sessions() as session:
        try:
            read = await alerting.get_alert(
                session=session, keyring=runtime.keyring, alert_id=event.alert_id
            )
        except NotFound:
            return
    runtime.get(Hub).publish(ALERTS_CHANNEL, "alert", read.model_dump(mode="json"))


async def judge_artefacts(runtime: Runtime, event: VitalsReceived) -> None:
    """Flat lines and the window forest, judged after the batch is stored (off the hot path)."""
    await runtime.get(ArtefactWindows).on_vitals(event)


async def score_risk(runtime: Runtime, event: VitalsReceived) -> None:
    """The shipped deterioration model's live score, after the batch is stored."""
    await runtime.get(RiskWatch).on_vitals(event)


async def forget_device(runtime: Runtime, event: DeviceChanged) -> None:
    """Bound, re-keyed, revoked: the pipeline reads the device afresh on its next message."""
    runtime.get(Pipeline).devices.invalidate(event.device_id)


async def move_unit_with_its_device(runtime: Runtime, event: PositionReceived) -> None:
    """A GPS fix from an ambulance's tracker moves the unit that carries the device."""
    async with runtime.sessions() as session:
        await record_device_position(
            uow=UnitOfWork(session, runtime.bus),
            device_id=event.device_id,
            lat=event.lat,
            lon=event.lon,
            at=event.at,
            speed_mps=event.speed_mps,
            heading=event.heading,
        )


async def audit_alert(runtime: Runtime, event: AlertChanged) -> None:
    """Raised, escalated and auto-resolved alerts have no HTTP request to be audited by. A new
    score on an open alert is not an action: the readings behind it are stored already."""
    if event.change == "score_changed":
        return
    await runtime.get(AuditLog).append(
        AuditRecord(
            actor=event.actor,
            action=f"{event.name}:{event.change}",
            target=json.dumps({"alert_id": event.alert_id}),
            request_id="-",
            outcome="success",
        )
    )
