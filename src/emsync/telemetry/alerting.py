"""The alert lifecycle: raising, re-levelling, clearing and resolving NEWS2/PEWS alerts from
each stored batch (the pure rules are alerts.py), acknowledgement, escalation shown on the
alert, stale devices, and the counts the watch reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.clock import as_utc
from emsync.core.crypto import Keyring
from emsync.core.errors import InvalidTransition, NotFound
from emsync.core.ids import new_id
from emsync.core.schemas import Page
from emsync.core.uow import UnitOfWork
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
from emsync.telemetry.events import AlertChanged
from emsync.telemetry.models import Alert, Device
from emsync.telemetry.schemas import (
    AlertRead,
)


def _alert_detail_aad(alert_id: str) -> bytes:
    return f"telemetry.alert:{alert_id}".encode()


def _alert_read(alert: Alert, keyring: Keyring) -> AlertRead:
    scores: dict[str, Any] = {}
    if alert.detail_sealed is not None:
        detail = orjson.loads(keyring.open(alert.detail_sealed, aad=_alert_detail_aad(alert.id)))
        # Alerts raised before peaks were kept hold one score: it is their peak as well.
        peak = detail.get("peak") or detail
        child = detail.get("scale") == "bedside-pews"  # a child's: never shown as NEWS2
        # The deterioration model's alert: its risk, never shown as a NEWS2 total.
        risk = detail.get("scale") == "deterioration"
        scores = {
            "risk" if risk else "pews" if child else "news2": (
                detail.get("risk") if risk else detail.get("total")
            ),
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


async def get_alert(*, session: AsyncSession, keyring: Keyring, alert_id: str) -> AlertRead:
    """One alert as GET /api/alerts lists it (the live push carries the same)."""
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return _alert_read(alert, keyring)


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


async def _alerts_of(
    session: AsyncSession, patients: list[str], *, kind: AlertKind, since: datetime, now: datetime
) -> tuple[dict[str, Alert], dict[str, Alert]]:
    """Each patient's open alert of `kind`, and their latest resolved since `since`."""
    rows = await session.scalars(
        select(Alert).where(
            Alert.patient_id.in_(patients),
            Alert.kind == kind.value,
            or_(Alert.status != AlertStatus.RESOLVED.value, Alert.resolved_at >= since),
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
    return open_by, resolved_by


def _new_alert(
    keyring: Keyring,
    patient_id: str,
    kind: AlertKind,
    observed: ScoreObservation,
    *,
    ack_timeout: timedelta,
    now: datetime,
) -> Alert:
    assert observed.level is not None
    level = observed.level
    detail = scored_detail(None, observed)
    alert_id = new_id()
    return Alert(
        id=alert_id,
        patient_id=patient_id,
        kind=kind.value,
        scope="",
        level=level.value,
        status=AlertStatus.RAISED.value,
        raised_at=now,
        updated_at=now,
        escalation_step=0,
        escalate_at=now + ack_timeout,
        detail_sealed=None
        if detail is None
        else keyring.seal(orjson.dumps(detail), aad=_alert_detail_aad(alert_id)),
    )


def _apply(
    current: Alert,
    decision: Decision,
    level: AlertLevel | None,
    *,
    ack_timeout: timedelta,
    now: datetime,
) -> str | None:
    """Apply a decision to the open alert; the change to announce, if any (the score itself
    is `_rescore`'s)."""
    if decision is Decision.RAISE_LEVEL:
        assert level is not None
        current.level = level.value
        current.status = AlertStatus.RAISED.value
        current.cleared_at = None
        current.escalate_at = now + ack_timeout
        return "level_raised"
    if decision is Decision.CLEAR:
        current.cleared_at = now
    elif decision is Decision.UNCLEAR:
        current.cleared_at = None
    elif decision is Decision.RESOLVE:
        current.status = AlertStatus.RESOLVED.value
        current.resolved_at = now
        current.resolved_by = SYSTEM_ACTOR
        current.escalate_at = None
        return "resolved"
    return None


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
    open_by, resolved_by = await _alerts_of(
        session, list(observations), kind=kind, since=now - holdoff, now=now
    )
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
            alert = _new_alert(
                keyring, patient_id, kind, observed, ack_timeout=ack_timeout, now=now
            )
            session.add(alert)
            events.append(_changed(alert, "raised", SYSTEM_ACTOR, now))
            continue
        if current is None:
            continue
        change = _apply(current, decision, observed.level, ack_timeout=ack_timeout, now=now)
        if _rescore(current, keyring, observed) and change is None:
            change = "score_changed"  # the tile and the alert list show the new score
        if change is not None:
            current.updated_at = now
            events.append(_changed(current, change, SYSTEM_ACTOR, now))
    await session.flush()
    return events


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
