"""A policy step firing: whom it names (on call now, a person, a role), what each of them gets
on which channel (their preferences and verified contact points), and the outbox rows for it.
The worker's escalation rounds call `advance_due`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from emsync.auth.public import active_users_with_role, signed_in
from emsync.core.crypto import Keyring
from emsync.core.events import Event
from emsync.notifications import escalation, outbox, signing
from emsync.notifications.escalation import ChannelKind, TargetKind
from emsync.notifications.events import PageClosed, PageEscalated
from emsync.notifications.lifecycle import Delivery, PageStatus
from emsync.notifications.models import AckToken, ContactPoint, Page, Preference
from emsync.notifications.paging import LINK_CHANNELS, page_aad, page_event, policy_from_data
from emsync.notifications.service import on_call_users
from emsync.notifications.templates import DEFAULT_LANGUAGE

S = PageStatus


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: str
    via_schedule: bool  # on call for this page: off-duty and logout preferences do not apply


async def _recipients(
    session: AsyncSession, step: escalation.Step, now: datetime
) -> list[Recipient]:
    found: dict[str, Recipient] = {}
    schedules = [t.ref for t in step.targets if t.kind is TargetKind.SCHEDULE]
    if schedules:
        for user_id in (
            await on_call_users(session=session, now=now, schedule_ids=schedules)
        ).values():
            found[user_id] = Recipient(user_id, True)
    for target in step.targets:
        if target.kind is TargetKind.USER:
            found.setdefault(target.ref, Recipient(target.ref, False))
        elif target.kind is TargetKind.ROLE:
            for user_id in await active_users_with_role(session=session, role=target.ref):
                found.setdefault(user_id, Recipient(user_id, False))
    return list(found.values())


@dataclass(frozen=True, slots=True)
class StepContext:
    page: Page
    step_number: int
    channels: tuple[ChannelKind, ...]
    data: dict[str, Any]
    reply_code: str
    urgent: bool


def due(now: datetime) -> ColumnElement[bool]:
    """An open page whose next step's time has come."""
    return (Page.status == S.OPEN.value) & (Page.next_step_at <= now)


async def advance_due(
    *,
    session: AsyncSession,
    keyring: Keyring,
    keys: outbox.Keys,
    link_lifetime: timedelta,
    now: datetime,
    limit: int = 100,
) -> list[Event]:
    """Fire every step that is due: notifications for whoever the step names, per their
    preferences and verified contact points. The caller commits."""
    pages = list(
        await session.scalars(select(Page).where(due(now)).order_by(Page.next_step_at).limit(limit))
    )
    events: list[Event] = []
    for page in pages:
        policy = policy_from_data(page.policy)
        planned = escalation.plan(policy, page.steps_done)
        if planned is None:
            page.status, page.next_step_at, page.updated_at = S.EXHAUSTED.value, None, now
            events.append(page_event(PageClosed, page, now))
            continue
        step = policy.steps[planned.index]
        number = page.steps_done + 1
        data = orjson.loads(keyring.open(page.data_sealed, aad=page_aad(page.id)))
        context = StepContext(
            page=page,
            step_number=number,
            channels=step.channels,
            data={**data, "step": number},
            reply_code=signing.new_code(4),
            urgent=page.steps_done == 0,
        )
        recipients = await _recipients(session, step, now)
        sent = await _notify(session, keyring, keys, context, recipients, link_lifetime, now)
        page.steps_done = number
        page.updated_at = now
        following = escalation.plan(policy, number)
        if following is None:
            page.status, page.next_step_at = S.EXHAUSTED.value, None
        else:
            page.next_step_at = now + timedelta(seconds=following.delay_seconds)
        events.append(
            PageEscalated(
                page_id=page.id,
                trigger=page.trigger,
                subject_kind=page.subject_kind,
                subject_id=page.subject_id,
                status=page.status,
                at=now,
                step=number,
                targets=", ".join(_describe(t) for t in step.targets),
                recipients=sent,
            )
        )
    await session.flush()
    return events


@dataclass(frozen=True, slots=True)
class Audience:
    """What decides who gets what: preferences, verified contact points, sessions, duty."""

    prefs: dict[str, Preference]
    points: dict[str, list[ContactPoint]]
    signed_in: set[str]
    on_duty: set[str]


async def _audience(session: AsyncSession, ids: list[str], now: datetime) -> Audience:
    prefs = {
        p.user_id: p
        for p in await session.scalars(select(Preference).where(Preference.user_id.in_(ids)))
    }
    points: dict[str, list[ContactPoint]] = {}
    for found in await session.scalars(
        select(ContactPoint).where(
            ContactPoint.user_id.in_(ids), ContactPoint.verified_at.is_not(None)
        )
    ):
        points.setdefault(found.user_id, []).append(found)
    return Audience(
        prefs=prefs,
        points=points,
        signed_in=await signed_in(session=session, user_ids=ids, now=now),
        on_duty=set((await on_call_users(session=session, now=now)).values()),
    )


def _quiet(recipient: Recipient, audience: Audience) -> str | None:
    """Why this person's preferences keep them out of this page, if they do. On call for it
    (a schedule target), they are paged regardless."""
    pref = audience.prefs.get(recipient.user_id)
    if pref is None or recipient.via_schedule:
        return None
    if pref.quiet_off_duty and recipient.user_id not in audience.on_duty:
        return "off duty (the person's preference)"
    if pref.mute_after_logout and recipient.user_id not in audience.signed_in:
        return "logged out (the person's preference)"
    return None


Delivery_ = tuple[Delivery, str | None, ContactPoint | None]


def _deliveries(
    channel: ChannelKind, recipient: Recipient, audience: Audience, quiet: str | None
) -> list[Delivery_]:
    """(status, reason, contact point) per message on one channel: one per verified contact
    point, or one suppressed row that says why nothing went (visible in the log)."""
    if channel is ChannelKind.IN_APP:
        return [(Delivery.QUEUED, None, None)]
    pref = audience.prefs.get(recipient.user_id)
    if pref is not None and channel.value not in pref.channels:
        return [(Delivery.SUPPRESSED, "channel turned off in the person's preferences", None)]
    if quiet is not None:
        return [(Delivery.SUPPRESSED, quiet, None)]
    points = [p for p in audience.points.get(recipient.user_id, []) if p.kind == channel.value]
    if not points:
        return [(Delivery.SUPPRESSED, f"no verified {channel.value} contact point", None)]
    return [(Delivery.QUEUED, None, p) for p in points]


async def _notify(
    session: AsyncSession,
    keyring: Keyring,
    keys: outbox.Keys,
    ctx: StepContext,
    recipients: Sequence[Recipient],
    link_lifetime: timedelta,
    now: datetime,
) -> int:
    """Outbox rows for one step; returns how many people it reaches on some channel."""
    if not recipients:
        return 0
    audience = await _audience(session, [r.user_id for r in recipients], now)
    reached = 0
    for recipient in recipients:
        quiet = _quiet(recipient, audience)
        token_id: str | None = None
        if LINK_CHANNELS & set(ctx.channels) and quiet is None:
            token_id, _ = signing.new_ack_token(keys.ack)
            session.add(
                AckToken(
                    id=token_id,
                    page_id=ctx.page.id,
                    user_id=recipient.user_id,
                    expires_at=now + link_lifetime,
                )
            )
        pref = audience.prefs.get(recipient.user_id)
        language = pref.language if pref else DEFAULT_LANGUAGE
        any_sent = False
        for channel in ctx.channels:
            for status, reason, point in _deliveries(channel, recipient, audience, quiet):
                added = await outbox.add(
                    session,
                    keyring,
                    outbox.NewNotification(
                        channel=channel,
                        template=ctx.page.template,
                        language=language,
                        data=ctx.data,
                        idempotency_key=f"page:{ctx.page.id}:{ctx.step_number}:"
                        f"{recipient.user_id}:{channel.value}:{point.id if point else '-'}",
                        user_id=recipient.user_id,
                        contact_point_id=point.id if point else None,
                        page_id=ctx.page.id,
                        step=ctx.step_number,
                        subject_kind=ctx.page.subject_kind,
                        subject_id=ctx.page.subject_id,
                        urgent=ctx.urgent,
                        reply_code=ctx.reply_code if channel is ChannelKind.SMS else None,
                        ack_token_id=token_id if channel in LINK_CHANNELS else None,
                        status=status,
                        status_reason=reason,
                    ),
                    now,
                )
                any_sent = any_sent or (added is not None and status is Delivery.QUEUED)
        reached += any_sent
    return reached


def _describe(target: escalation.Target) -> str:
    if target.kind is TargetKind.SCHEDULE:
        return "on call"
    if target.kind is TargetKind.USER:
        return "named person"
    return target.ref
