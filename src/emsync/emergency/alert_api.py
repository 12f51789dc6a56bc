"""Public alert routes (CAP 1.2 composer, update, cancel; the public Atom feed and CAP XML)
and hazard feed routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emsync.auth.deps import public, requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.core.errors import NotFound
from emsync.core.runtime import ReadSessionDep, RuntimeDep, UowDep
from emsync.emergency import alert_service, hazard_service
from emsync.emergency.alert_schemas import (
    FeedCreate,
    FeedStatus,
    PublicAlertCancel,
    PublicAlertCompose,
    PublicAlertRead,
)
from emsync.emergency.cap import CAP_MEDIA_TYPE

router = APIRouter(prefix="/api/emergency", tags=["emergency: public alerts"])
Reader = Annotated[Principal, requires(Perm.EMERGENCY_READ)]
Writer = Annotated[Principal, requires(Perm.EMERGENCY_WRITE)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/alerts", response_model=list[PublicAlertRead])
async def list_alerts(
    runtime: RuntimeDep, session: ReadSessionDep, _: Reader, active: bool = True
) -> list[PublicAlertRead]:
    alerts = await alert_service.list_alerts(
        session=session, active_only=active, now=runtime.clock()
    )
    return [alert_service.alert_read(a) for a in alerts]


@router.post("/alerts", response_model=PublicAlertRead, status_code=201)
async def publish_alert(
    body: PublicAlertCompose, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> PublicAlertRead:
    """Publish a CAP 1.2 alert. 422 names each field that breaks CAP's rules or the OASIS
    XSD; nothing is stored then."""
    return await alert_service.publish(
        uow=uow,
        settings=runtime.settings.emergency,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/alerts/{thread_id}/update", response_model=PublicAlertRead, status_code=201)
async def update_alert(
    thread_id: str, body: PublicAlertCompose, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> PublicAlertRead:
    """A CAP Update referencing every earlier message of this alert."""
    return await alert_service.update(
        uow=uow,
        settings=runtime.settings.emergency,
        thread_id=thread_id,
        data=body,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.post("/alerts/{thread_id}/cancel", response_model=PublicAlertRead, status_code=201)
async def cancel_alert(
    thread_id: str, body: PublicAlertCancel, runtime: RuntimeDep, uow: UowDep, principal: Writer
) -> PublicAlertRead:
    return await alert_service.cancel(
        uow=uow,
        settings=runtime.settings.emergency,
        thread_id=thread_id,
        note=body.note,
        actor=principal.audit_name,
        now=runtime.clock(),
    )


@router.get("/alerts/{identifier}.xml", response_class=Response)
async def alert_xml(identifier: str, session: ReadSessionDep, _: Reader) -> Response:
    """The message exactly as published (any status or scope)."""
    alert = await alert_service.get_message(session=session, identifier_or_id=identifier)
    return Response(alert.xml, media_type=CAP_MEDIA_TYPE)


@router.get("/public/alerts.atom", response_class=Response)
@public
async def public_feed(request: Request, runtime: RuntimeDep, session: ReadSessionDep) -> Response:
    """Public: the Atom index of active Actual alerts of Public scope."""
    body = await alert_service.feed(
        session=session,
        settings=runtime.settings.emergency,
        base_url=_base(request),
        now=runtime.clock(),
    )
    return Response(body, media_type="application/atom+xml")


@router.get("/public/alerts/{identifier}.xml", response_class=Response)
@public
async def public_alert_xml(identifier: str, session: ReadSessionDep) -> Response:
    """Public: one alert's CAP XML, when it is Actual and of Public scope."""
    alert = await alert_service.get_message(session=session, identifier_or_id=identifier)
    if alert.status != "Actual" or alert.info.get("scope", "Public") != "Public":
        raise NotFound(f"alert {identifier} is not public")
    return Response(alert.xml, media_type=CAP_MEDIA_TYPE)


@router.get("/hazard-feeds", response_model=list[FeedStatus])
async def list_feeds(session: ReadSessionDep, _: Reader) -> list[FeedStatus]:
    return await hazard_service.list_feeds(session=session)


@router.post("/hazard-feeds", response_model=FeedStatus, status_code=201)
async def create_feed(body: FeedCreate, runtime: RuntimeDep, uow: UowDep, _: Writer) -> FeedStatus:
    return await hazard_service.create_feed(uow=uow, data=body, now=runtime.clock())


@router.post("/hazard-feeds/{feed_id}/refresh", response_model=FeedStatus)
async def refresh_feed(feed_id: str, runtime: RuntimeDep, uow: UowDep, _: Writer) -> FeedStatus:
    """Read the feed now; on failure its last features stay and the error is kept."""
    return await hazard_service.refresh(
        uow=uow, feed_id=feed_id, settings=runtime.settings.emergency, now=runtime.clock()
    )
