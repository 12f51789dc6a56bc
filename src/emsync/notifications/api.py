"""Notification routes: your contact points, preferences, inbox and pages; teams, on-call
schedules, overrides and escalation policies; the notification log; template previews; and the
public endpoints a link or a provider calls (signed ack links, SMS status and replies)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from emsync.auth.deps import public, requires
from emsync.auth.permissions import Perm
from emsync.auth.principal import Principal
from emsync.auth.public import user_directory
from emsync.core.errors import NotFound, Unauthorized
from emsync.core.events import Event
from emsync.core.runtime import Runtime, RuntimeDep, SessionDep, UowDep
from emsync.core.uow import UnitOfWork
from emsync.notifications import history, outbox, paging, policies, service, signing, sms
from emsync.notifications.metrics import NotificationMetrics
from emsync.notifications.schemas import (
    AckRequest,
    AckResult,
    ContactPointCreate,
    ContactPointCreated,
    ContactPointRead,
    DirectoryRead,
    InboxItem,
    NotificationRead,
    OnCallRead,
    OnCallTeamCreate,
    OnCallTeamRead,
    OverrideCreate,
    PageRead,
    PolicyCreate,
    PolicyRead,
    PreferenceRead,
    PreferenceUpdate,
    PreviewRead,
    PreviewRequest,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
    TemplateRead,
    VerifyRequest,
)
from emsync.notifications.templates import CATALOGUE, LANGUAGES, TemplateError, render
from emsync.notifications.wiring import PushKey

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

Self = Annotated[Principal, requires(Perm.NOTIFY_SELF)]
Reader = Annotated[Principal, requires(Perm.ONCALL_READ)]
Manager = Annotated[Principal, requires(Perm.ONCALL_MANAGE)]
Limit = Annotated[int, Query(ge=1, le=500)]


def _keys(runtime: Runtime) -> outbox.Keys:
    return runtime.get(outbox.Keys)


def _code_lifetime(runtime: Runtime) -> timedelta:
    return timedelta(minutes=runtime.settings.notifications.verification_minutes)


async def _commit(uow: UnitOfWork, events: list[Event]) -> None:
    uow.record(*events)
    await uow.commit()


# ---------------------------------------------------------------- yours


@router.get("/contact-points", response_model=list[ContactPointRead])
async def list_contact_points(session: SessionDep, me: Self) -> list[ContactPointRead]:
    return await service.list_contact_points(session=session, user_id=me.id)


@router.post("/contact-points", response_model=ContactPointCreated, status_code=201)
async def add_contact_point(
    body: ContactPointCreate, runtime: RuntimeDep, uow: UowDep, me: Self
) -> ContactPointCreated:
    """Add an address; a 6-digit code goes to it, and it pages nobody until verified."""
    return await service.add_contact_point(
        uow=uow,
        keyring=runtime.keyring,
        keys=_keys(runtime),
        user_id=me.id,
        body=body,
        now=runtime.clock(),
        code_lifetime=_code_lifetime(runtime),
    )


@router.post("/contact-points/{point_id}/verify", response_model=ContactPointRead)
async def verify_contact_point(
    point_id: str, body: VerifyRequest, runtime: RuntimeDep, uow: UowDep, me: Self
) -> ContactPointRead:
    return await service.verify_contact_point(
        uow=uow,
        keys=_keys(runtime),
        user_id=me.id,
        point_id=point_id,
        code=body.code,
        now=runtime.clock(),
    )


@router.post("/contact-points/{point_id}/resend", response_model=ContactPointRead)
async def resend_code(
    point_id: str, runtime: RuntimeDep, uow: UowDep, me: Self
) -> ContactPointRead:
    return await service.resend_code(
        uow=uow,
        keyring=runtime.keyring,
        keys=_keys(runtime),
        user_id=me.id,
        point_id=point_id,
        now=runtime.clock(),
        code_lifetime=_code_lifetime(runtime),
    )


@router.post("/contact-points/{point_id}/test", status_code=202)
async def test_send(point_id: str, runtime: RuntimeDep, uow: UowDep, me: Self) -> dict[str, str]:
    """Send a test message through this contact point's channel; watch it in the log."""
    notification_id = await service.send_test(
        uow=uow,
        keyring=runtime.keyring,
        user_id=me.id,
        point_id=point_id,
        sender=me.name,
        now=runtime.clock(),
    )
    return {"notification_id": notification_id}


@router.delete("/contact-points/{point_id}", status_code=204)
async def delete_contact_point(point_id: str, uow: UowDep, me: Self) -> Response:
    await service.delete_contact_point(uow=uow, user_id=me.id, point_id=point_id)
    return Response(status_code=204)


@router.get("/push/key")
async def push_key(runtime: RuntimeDep, _: Self) -> dict[str, str | None]:
    """The VAPID public key a browser subscribes with (null: Web Push is not configured)."""
    key = runtime.find(PushKey)
    return {"public_key": key.public if key else None}


@router.get("/preferences", response_model=PreferenceRead)
async def get_preferences(session: SessionDep, me: Self) -> PreferenceRead:
    return await service.get_preferences(session=session, user_id=me.id)


@router.put("/preferences", response_model=PreferenceRead)
async def set_preferences(
    body: PreferenceUpdate, runtime: RuntimeDep, uow: UowDep, me: Self
) -> PreferenceRead:
    return await service.set_preferences(uow=uow, user_id=me.id, body=body, now=runtime.clock())


@router.get("/inbox", response_model=list[InboxItem])
async def inbox(
    runtime: RuntimeDep, session: SessionDep, me: Self, limit: Limit = 50
) -> list[InboxItem]:
    return await history.inbox(
        session=session,
        keyring=runtime.keyring,
        links=outbox.Links(runtime.settings.notifications.public_url),
        user_id=me.id,
        limit=limit,
    )


@router.post("/pages/{page_id}/ack", response_model=AckResult)
async def acknowledge_page(page_id: str, runtime: RuntimeDep, uow: UowDep, me: Self) -> AckResult:
    """Acknowledge from the dashboard: escalation stops (and the alert is acknowledged)."""
    result, events = await paging.acknowledge_page(
        session=uow.session, page_id=page_id, user_id=me.id, via="dashboard", now=runtime.clock()
    )
    await _commit(uow, events)
    return result


# ---------------------------------------------------------------- on call


@router.get("/directory", response_model=list[DirectoryRead])
async def directory(session: SessionDep, _: Reader) -> list[DirectoryRead]:
    """Active people, for schedule and policy pickers (names and roles only)."""
    return [
        DirectoryRead(id=e.id, username=e.username, role=e.role)
        for e in await user_directory(session=session)
        if e.active
    ]


@router.get("/teams", response_model=list[OnCallTeamRead])
async def list_teams(session: SessionDep, _: Reader) -> list[OnCallTeamRead]:
    return await service.list_teams(session=session)


@router.post("/teams", response_model=OnCallTeamRead, status_code=201)
async def create_team(
    body: OnCallTeamCreate, runtime: RuntimeDep, uow: UowDep, _: Manager
) -> OnCallTeamRead:
    return await service.create_team(uow=uow, body=body, now=runtime.clock())


@router.get("/schedules", response_model=list[ScheduleRead])
async def list_schedules(runtime: RuntimeDep, session: SessionDep, _: Reader) -> list[ScheduleRead]:
    return await service.list_schedules(session=session, now=runtime.clock())


@router.post("/schedules", response_model=ScheduleRead, status_code=201)
async def create_schedule(
    body: ScheduleCreate, runtime: RuntimeDep, uow: UowDep, _: Manager
) -> ScheduleRead:
    return await service.create_schedule(uow=uow, body=body, now=runtime.clock())


@router.get("/schedules/{schedule_id}", response_model=ScheduleRead)
async def get_schedule(
    schedule_id: str, runtime: RuntimeDep, session: SessionDep, _: Reader
) -> ScheduleRead:
    return await service.get_schedule(session=session, schedule_id=schedule_id, now=runtime.clock())


@router.patch("/schedules/{schedule_id}", response_model=ScheduleRead)
async def update_schedule(
    schedule_id: str, body: ScheduleUpdate, runtime: RuntimeDep, uow: UowDep, _: Manager
) -> ScheduleRead:
    return await service.update_schedule(
        uow=uow, schedule_id=schedule_id, body=body, now=runtime.clock()
    )


@router.delete("/schedules/{schedule_id}", status_code=204)
async def delete_schedule(schedule_id: str, uow: UowDep, _: Manager) -> Response:
    await service.delete_schedule(uow=uow, schedule_id=schedule_id)
    return Response(status_code=204)


@router.post("/schedules/{schedule_id}/overrides", response_model=ScheduleRead, status_code=201)
async def add_override(
    schedule_id: str, body: OverrideCreate, runtime: RuntimeDep, uow: UowDep, me: Manager
) -> ScheduleRead:
    """Someone else covers a window (swap, sickness): they are on call for it instead."""
    return await service.add_override(
        uow=uow, schedule_id=schedule_id, body=body, actor=me.audit_name, now=runtime.clock()
    )


@router.delete("/schedules/{schedule_id}/overrides/{override_id}", status_code=204)
async def delete_override(schedule_id: str, override_id: str, uow: UowDep, _: Manager) -> Response:
    await service.delete_override(uow=uow, schedule_id=schedule_id, override_id=override_id)
    return Response(status_code=204)


@router.get("/oncall", response_model=list[OnCallRead])
async def on_call_now(runtime: RuntimeDep, session: SessionDep, _: Reader) -> list[OnCallRead]:
    """Who is on call now in every schedule, until when, and who is next."""
    return await service.on_call_now(session=session, now=runtime.clock())


@router.get("/policies", response_model=list[PolicyRead])
async def list_policies(session: SessionDep, _: Reader) -> list[PolicyRead]:
    return await policies.list_policies(session=session)


@router.post("/policies", response_model=PolicyRead, status_code=201)
async def create_policy(
    body: PolicyCreate, runtime: RuntimeDep, uow: UowDep, _: Manager
) -> PolicyRead:
    return await policies.create_policy(uow=uow, body=body, now=runtime.clock())


@router.put("/policies/{policy_id}", response_model=PolicyRead)
async def update_policy(
    policy_id: str, body: PolicyCreate, runtime: RuntimeDep, uow: UowDep, _: Manager
) -> PolicyRead:
    return await policies.update_policy(
        uow=uow, policy_id=policy_id, body=body, now=runtime.clock()
    )


@router.delete("/policies/{policy_id}", status_code=204)
async def delete_policy(policy_id: str, uow: UowDep, _: Manager) -> Response:
    await policies.delete_policy(uow=uow, policy_id=policy_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- log and templates


@router.get("/pages", response_model=list[PageRead])
async def list_pages(
    session: SessionDep,
    _: Reader,
    subject_kind: Annotated[str | None, Query(max_length=32)] = None,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved|exhausted)$")] = None,
    limit: Limit = 50,
) -> list[PageRead]:
    """Pages (per alert or handoff: `subject_id`), each with its notifications and attempts."""
    return await history.list_pages(
        session=session,
        subject_kind=subject_kind,
        subject_id=subject_id,
        status=status,
        limit=limit,
    )


@router.get("/pages/{page_id}", response_model=PageRead)
async def get_page(page_id: str, session: SessionDep, _: Reader) -> PageRead:
    return await history.get_page(session=session, page_id=page_id)


@router.get("/log", response_model=list[NotificationRead])
async def notification_log(
    session: SessionDep,
    _: Reader,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    user_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Limit = 100,
) -> list[NotificationRead]:
    return await history.list_notifications(
        session=session, subject_id=subject_id, user_id=user_id, limit=limit
    )


@router.get("/templates", response_model=list[TemplateRead])
async def list_templates(_: Reader) -> list[TemplateRead]:
    return [
        TemplateRead(
            name=t.name,
            description=t.description,
            fields=list(t.fields),
            languages=list(LANGUAGES),
            detail_channels=sorted(t.detail_channels),
            example=dict(t.example),
        )
        for t in CATALOGUE.values()
    ]


@router.post("/templates/{name}/preview", response_model=PreviewRead)
async def preview_template(
    name: str, body: PreviewRequest, runtime: RuntimeDep, _: Reader
) -> PreviewRead:
    """The message as a channel would carry it, with example links."""
    template = CATALOGUE.get(name)
    if template is None:
        raise NotFound(f"no template named {name!r}")
    base = runtime.settings.notifications.public_url.rstrip("/")
    try:
        rendered = render(
            name,
            language=body.language,
            channel=body.channel,
            data=template.example if body.data is None else body.data,
            links={
                "dashboard": f"{base}/paging",
                "ack_link": f"{base}/ack/EXAMPLE",
                "reply_code": "4821",
            },
        )
    except TemplateError as exc:
        raise service.invalid(exc.field, str(exc)) from None
    return PreviewRead(subject=rendered.subject, text=rendered.text, detailed=rendered.detailed)


# ---------------------------------------------------------------- called by links and providers


@router.post("/ack", response_model=AckResult)
@public
async def acknowledge_by_link(body: AckRequest, runtime: RuntimeDep, uow: UowDep) -> AckResult:
    """The signed one-time link from an e-mail or SMS (the page at /ack/<token> posts it)."""
    result, events = await paging.acknowledge_by_token(
        session=uow.session, keys=_keys(runtime), token=body.token, now=runtime.clock()
    )
    await _commit(uow, events)
    return result


async def _signed_form(request: Request, runtime: Runtime, kind: str) -> dict[str, str]:
    """The provider's form, once its X-Twilio-Signature proves it came from the provider."""
    settings = runtime.settings.notifications
    metrics = runtime.get(NotificationMetrics)
    form = {k: str(v) for k, v in (await request.form()).multi_items()}
    token = settings.sms_auth_token.get_secret_value() if settings.sms_auth_token else None
    url = settings.public_url.rstrip("/") + request.url.path
    signature = request.headers.get("x-twilio-signature", "")
    if token is None or not signing.twilio_signature_valid(token, url, form.items(), signature):
        metrics.inbound.labels(kind=kind, outcome="rejected").inc()
        raise Unauthorized("the X-Twilio-Signature does not match this request")
    return form


@router.post("/sms/status", status_code=204)
@public
async def sms_status(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    """The SMS provider's delivery report (signed; a forged one changes nothing)."""
    form = await _signed_form(request, runtime, "sms_status")
    report = sms.parse_status(form)
    target = sms.STATUS.get(report.status) if report else None
    event = None
    if report is not None and target is not None:
        detail = f"provider: {report.status}" + (
            f" (error {report.error_code})" if report.error_code else ""
        )
        event = await outbox.provider_status(
            session=uow.session,
            provider_id=report.message_sid,
            status=target,
            detail=detail,
            now=runtime.clock(),
        )
    await _commit(uow, [event] if event else [])
    runtime.get(NotificationMetrics).inbound.labels(kind="sms_status", outcome="accepted").inc()
    return Response(status_code=204)


@router.post("/sms/inbound")
@public
async def sms_inbound(request: Request, runtime: RuntimeDep, uow: UowDep) -> Response:
    """An SMS reply. "ACK" (or "ACK 4821") from a verified number acknowledges its page."""
    form = await _signed_form(request, runtime, "sms_reply")
    message = sms.parse_inbound(form)
    reply = "EMsync: not understood. Reply ACK and the code from the page."
    if message is not None:
        outcome, events, reply = await paging.handle_reply(
            session=uow.session, keys=_keys(runtime), message=message, now=runtime.clock()
        )
        await _commit(uow, events)
        runtime.get(NotificationMetrics).inbound.labels(kind="sms_reply", outcome=outcome).inc()
    twiml = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{_xml(reply)}</Message>'
    twiml += "</Response>"
    return Response(content=twiml, media_type="text/xml")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
