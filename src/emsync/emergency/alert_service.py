"""Public alerts: compose, check (CAP rules, then the OASIS XSD), optionally sign, publish;
update and cancel as new messages whose `<references>` chain to every earlier one; the active
set for the Atom feed and the map.

Nothing is stored unless the exact XML that will be served passed the XSD.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.core.errors import InvalidTransition, NotFound, ValidationFailed
from emsync.core.ids import new_id
from emsync.core.settings import EmergencySettings
from emsync.core.uow import UnitOfWork
from emsync.emergency import activity, atom, cap, search_service
from emsync.emergency.alert_schemas import PublicAlertCompose, PublicAlertRead
from emsync.emergency.events import PublicAlertIssued
from emsync.emergency.models import PublicAlert

ACTIVE = "active"


def _message(
    data: PublicAlertCompose,
    *,
    identifier: str,
    settings: EmergencySettings,
    sent: datetime,
    msg_type: str,
    references: Sequence[cap.Reference],
) -> cap.CapMessage:
    info = cap.Info(
        categories=tuple(data.categories),
        event=data.event,
        urgency=data.urgency,
        severity=data.severity,
        certainty=data.certainty,
        language=data.language,
        response_types=tuple(data.response_types),
        sender_name=settings.cap_sender_name,
        headline=data.headline,
        description=data.description,
        instruction=data.instruction,
        web=data.web,
        contact=data.contact,
        onset=data.onset,
        expires=data.expires,
        areas=tuple(
            cap.Area(
                desc=a.desc,
                polygons=tuple(tuple((lat, lon) for lat, lon in ring) for ring in a.polygons),
                circles=tuple(cap.Circle(c.lat, c.lon, c.radius_km) for c in a.circles),
                geocodes=tuple((g.name, g.value) for g in a.geocodes),
            )
            for a in data.areas
        ),
    )
    return cap.CapMessage(
        identifier=identifier,
        sender=settings.cap_sender,
        sent=sent,
        status=data.status,
        msg_type=msg_type,
        scope=data.scope,
        note=data.note,
        references=tuple(references),
        info=(info,),
    )


def _problems(problems: Sequence[cap.CapProblem], what: str) -> ValidationFailed:
    errors = [{"field": p.field, "message": p.message} for p in problems]
    detail = "; ".join(f"{p.field}: {p.message}" for p in problems[:5])
    return ValidationFailed(f"{what}: {detail}", errors=errors)


def render(msg: cap.CapMessage, settings: EmergencySettings) -> tuple[bytes, bool]:
    """The XML to serve (signed when a key is configured), or ValidationFailed naming fields."""
    problems = cap.check_message(msg)
    if problems:
        raise _problems(problems, "invalid CAP alert")
    xml = cap.to_xml(msg)
    signed = False
    if settings.cap_signing_key_file is not None and settings.cap_signing_cert_file is not None:
        xml = cap.sign(
            xml,
            key_pem=Path(settings.cap_signing_key_file).read_bytes(),
            cert_pem=Path(settings.cap_signing_cert_file).read_bytes(),
        )
        signed = True
    failures = cap.xsd_problems(xml)
    if failures:
        raise _problems(failures, "the alert fails the OASIS CAP 1.2 schema")
    return xml, signed


def alert_read(a: PublicAlert) -> PublicAlertRead:
    return PublicAlertRead(
        id=a.id,
        thread_id=a.thread_id,
        identifier=a.identifier,
        sender=a.sender,
        sent=a.sent,
        msg_type=a.msg_type,
        status=a.status,
        state=a.state,
        references=a.references,
        event=a.event,
        headline=a.headline,
        severity=a.severity,
        urgency=a.urgency,
        certainty=a.certainty,
        expires=a.expires,
        signed=a.signed,
        created_by=a.created_by,
        compose=PublicAlertCompose.model_validate(a.info),
    )


async def _store(
    uow: UnitOfWork,
    data: PublicAlertCompose,
    *,
    settings: EmergencySettings,
    msg_type: str,
    thread: Sequence[PublicAlert],
    actor: str,
    now: datetime,
) -> PublicAlert:
    alert_id = new_id()
    identifier = f"{settings.cap_sender.split('@')[0]}-{alert_id}"
    references = [cap.Reference(a.sender, a.identifier, a.sent) for a in thread]
    msg = _message(
        data,
        identifier=identifier,
        settings=settings,
        sent=now,
        msg_type=msg_type,
        references=references,
    )
    xml, signed = render(msg, settings)
    for earlier in thread:
        earlier.state = "superseded" if msg_type == "Update" else "cancelled"
    alert = PublicAlert(
        id=alert_id,
        identifier=identifier,
        sender=settings.cap_sender,
        sent=now,
        msg_type=msg_type,
        status=data.status,
        state=ACTIVE if msg_type != "Cancel" else "cancelled",
        thread_id=thread[0].thread_id if thread else alert_id,
        references=cap.references_text(references) or None,
        event=data.event,
        headline=data.headline,
        severity=data.severity,
        urgency=data.urgency,
        certainty=data.certainty,
        expires=data.expires,
        info=data.model_dump(mode="json"),
        xml=xml.decode(),
        signed=signed,
        created_by=actor,
    )
    session = uow.session
    session.add(alert)
    area_text = " ".join(a.desc for a in data.areas)
    await search_service.put(
        session,
        kind="alert",
        ref_id=alert.thread_id,
        title=data.headline or data.event,
        body=" ".join(filter(None, [data.event, area_text, data.description, data.instruction])),
        status=alert.state,
        now=now,
    )
    activity.record(
        session,
        at=now,
        actor=actor,
        subject="alert",
        subject_id=alert.thread_id,
        action=msg_type.lower(),
        detail=f"{identifier}: {data.headline or data.event}",
    )
    uow.record(
        PublicAlertIssued(
            alert_id=alert.id,
            thread_id=alert.thread_id,
            identifier=identifier,
            msg_type=msg_type,
            status=data.status,
            event=data.event,
            severity=data.severity,
            headline=data.headline,
        )
    )
    await uow.commit()
    return alert


async def publish(
    *,
    uow: UnitOfWork,
    settings: EmergencySettings,
    data: PublicAlertCompose,
    actor: str,
    now: datetime,
) -> PublicAlertRead:
    if data.expires is not None and data.expires <= now:
        raise ValidationFailed("expires must be in the future", field="expires")
    alert = await _store(
        uow, data, settings=settings, msg_type="Alert", thread=[], actor=actor, now=now
    )
    return alert_read(alert)


async def _thread(session: AsyncSession, thread_id: str) -> list[PublicAlert]:
    rows = (
        await session.scalars(
            select(PublicAlert)
            .where(PublicAlert.thread_id == thread_id)
            .order_by(PublicAlert.sent, PublicAlert.id)
            .with_for_update()
        )
    ).all()
    if not rows:
        raise NotFound(f"alert {thread_id} does not exist")
    if rows[-1].state != ACTIVE:
        raise InvalidTransition(f"alert {thread_id} is {rows[-1].state}; it cannot change")
    return list(rows)


async def update(
    *,
    uow: UnitOfWork,
    settings: EmergencySettings,
    thread_id: str,
    data: PublicAlertCompose,
    actor: str,
    now: datetime,
) -> PublicAlertRead:
    thread = await _thread(uow.session, thread_id)
    alert = await _store(
        uow, data, settings=settings, msg_type="Update", thread=thread, actor=actor, now=now
    )
    return alert_read(alert)


async def cancel(
    *,
    uow: UnitOfWork,
    settings: EmergencySettings,
    thread_id: str,
    note: str,
    actor: str,
    now: datetime,
) -> PublicAlertRead:
    thread = await _thread(uow.session, thread_id)
    data = PublicAlertCompose.model_validate({**thread[-1].info, "note": note, "expires": None})
    alert = await _store(
        uow, data, settings=settings, msg_type="Cancel", thread=thread, actor=actor, now=now
    )
    return alert_read(alert)


async def list_alerts(
    *, session: AsyncSession, active_only: bool, now: datetime
) -> list[PublicAlert]:
    query = select(PublicAlert)
    if active_only:
        query = query.where(
            PublicAlert.state == ACTIVE,
            (PublicAlert.expires.is_(None)) | (PublicAlert.expires > now),
        )
    return list((await session.scalars(query.order_by(PublicAlert.sent.desc()))).all())


async def get_message(*, session: AsyncSession, identifier_or_id: str) -> PublicAlert:
    alert = await session.scalar(
        select(PublicAlert).where(
            (PublicAlert.id == identifier_or_id) | (PublicAlert.identifier == identifier_or_id)
        )
    )
    if alert is None:
        raise NotFound(f"alert {identifier_or_id} does not exist")
    return alert


async def feed(
    *, session: AsyncSession, settings: EmergencySettings, base_url: str, now: datetime
) -> bytes:
    """Atom of active Actual/Public alerts (the public channel until notifications lands)."""
    alerts = [
        a
        for a in await list_alerts(session=session, active_only=True, now=now)
        if a.status == "Actual" and a.info.get("scope", "Public") == "Public"
    ]
    entries = [
        atom.FeedEntry(
            identifier=a.identifier,
            title=a.headline or a.event,
            summary=str(a.info.get("description") or ""),
            sent=a.sent,
            cap_url=f"{base_url}/api/emergency/public/alerts/{a.identifier}.xml",
            severity=a.severity,
            msg_type=a.msg_type,
        )
        for a in alerts
    ]
    return atom.atom_feed(
        entries,
        feed_url=f"{base_url}/api/emergency/public/alerts.atom",
        sender_name=settings.cap_sender_name,
        updated=now,
    )


def geojson(alerts: Sequence[PublicAlert]) -> dict[str, object]:
    features = []
    for a in alerts:
        compose = PublicAlertCompose.model_validate(a.info)
        for area in compose.areas:
            shapes = cap.area_geometry(
                cap.Area(
                    area.desc,
                    tuple(tuple(tuple(p) for p in ring) for ring in area.polygons),  # type: ignore[misc]
                    tuple(cap.Circle(c.lat, c.lon, c.radius_km) for c in area.circles),
                )
            )
            for shape in shapes:
                radius = shape.pop("radius_km", None)
                features.append(
                    {
                        "type": "Feature",
                        "geometry": shape,
                        "properties": {
                            "thread_id": a.thread_id,
                            "identifier": a.identifier,
                            "event": a.event,
                            "headline": a.headline,
                            "severity": a.severity,
                            "area": area.desc,
                            "radius_km": radius,
                        },
                    }
                )
    return {"type": "FeatureCollection", "features": features}
