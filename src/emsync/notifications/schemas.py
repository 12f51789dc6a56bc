"""Request and response bodies of the notifications API (one schema per shape, REST and
WebSocket alike)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from emsync.notifications.escalation import TRIGGERS, ChannelKind, TargetKind

Address = Literal["email", "sms", "push", "webhook"]
Language = Literal["en", "fi"]
TeamKind = Literal["ed", "clinician_group", "dispatch_centre", "coordination", "other"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactPointCreate(Strict):
    kind: Address
    address: str = Field(
        min_length=3,
        max_length=4000,
        description="e-mail, E.164 number, webhook https URL, or PushSubscription JSON",
    )
    label: str = Field(default="", max_length=100)


class ContactPointRead(BaseModel):
    id: str
    kind: Address
    label: str
    masked: str
    verified: bool
    verified_at: datetime | None
    created_at: datetime


class ContactPointCreated(ContactPointRead):
    webhook_secret: str | None = Field(
        default=None, description="the webhook's signing secret (whsec_…), shown only once"
    )


class VerifyRequest(Strict):
    code: str = Field(pattern=r"^[0-9]{6}$", description="the 6-digit code that was sent")


class PreferenceRead(BaseModel):
    language: Language
    channels: list[ChannelKind]
    quiet_off_duty: bool
    mute_after_logout: bool


class PreferenceUpdate(Strict):
    language: Language = "en"
    channels: list[ChannelKind] = Field(
        default=[ChannelKind.PUSH, ChannelKind.SMS, ChannelKind.EMAIL, ChannelKind.IN_APP],
        max_length=5,
        description="channels you accept; in-app is always on",
    )
    quiet_off_duty: bool = Field(
        default=False, description="nothing by role or name while you are not on call"
    )
    mute_after_logout: bool = Field(
        default=False, description="nothing by role or name while you are logged out"
    )

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[ChannelKind]) -> list[ChannelKind]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value


class OnCallTeamCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: TeamKind
    description: str = Field(default="", max_length=500)


class OnCallTeamRead(BaseModel):
    id: str
    name: str
    kind: TeamKind
    description: str


class ScheduleCreate(Strict):
    team_id: str = Field(min_length=1, max_length=36)
    name: str = Field(min_length=1, max_length=100)
    rotation_start: AwareDatetime = Field(description="the first handover")
    shift_hours: float = Field(gt=0, le=24 * 14, description="length of one shift")
    members: list[str] = Field(min_length=1, max_length=50, description="user ids, in order")

    @field_validator("members")
    @classmethod
    def _members_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a member is listed twice")
        return value


class ScheduleUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    rotation_start: AwareDatetime | None = None
    shift_hours: float | None = Field(default=None, gt=0, le=24 * 14)
    members: list[str] | None = Field(default=None, min_length=1, max_length=50)

    @field_validator("members")
    @classmethod
    def _members_unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a member is listed twice")
        return value


class OnCallShiftRead(BaseModel):
    user_id: str
    username: str
    starts_at: datetime
    ends_at: datetime
    override: bool


class OverrideCreate(Strict):
    user_id: str = Field(min_length=1, max_length=36)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _window(self) -> OverrideCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.ends_at - self.starts_at > timedelta(days=31):
            raise ValueError("an override is at most 31 days; change the rotation instead")
        return self


class OverrideRead(BaseModel):
    id: str
    user_id: str
    username: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str


class ScheduleRead(BaseModel):
    id: str
    team_id: str
    name: str
    rotation_start: datetime
    shift_hours: float
    member_ids: list[str]
    member_names: list[str]
    on_call: OnCallShiftRead | None
    upcoming: list[OnCallShiftRead]
    overrides: list[OverrideRead]


class TargetIn(Strict):
    kind: TargetKind
    ref: str = Field(min_length=1, max_length=64, description="schedule id, user id or role")


class StepIn(Strict):
    delay_seconds: float = Field(ge=0, le=86400, description="after the previous step")
    targets: list[TargetIn] = Field(min_length=1, max_length=10)
    channels: list[ChannelKind] = Field(min_length=1, max_length=5)

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[ChannelKind]) -> list[ChannelKind]:
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value


Trigger = Literal["telemetry.alert.news2", "telemetry.alert.stale", "handoffs.ack_overdue"]
assert set(Trigger.__args__) == set(TRIGGERS)  # type: ignore[attr-defined]


class PolicyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    triggers: list[Trigger] = Field(default_factory=list, max_length=len(TRIGGERS))
    steps: list[StepIn] = Field(min_length=1, max_length=10)
    repeat: int = Field(default=0, ge=0, le=10, description="extra runs of the whole chain")
    repeat_after_seconds: int = Field(default=300, ge=30, le=86400)


class PolicyRead(PolicyCreate):
    id: str
    updated_at: datetime


class OnCallRead(BaseModel):
    schedule_id: str
    schedule_name: str
    team_id: str
    team_name: str
    team_kind: str
    on_call: OnCallShiftRead | None
    next_handover: datetime | None
    next: OnCallShiftRead | None


class AttemptRead(BaseModel):
    number: int
    at: datetime
    outcome: str
    detail: str
    duration_ms: int | None


class NotificationRead(BaseModel):
    id: str
    page_id: str | None
    step: int | None
    user_id: str | None
    username: str | None
    channel: ChannelKind
    destination: str | None
    template: str
    language: str
    status: str
    status_reason: str | None
    attempts: int
    provider_id: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    attempt_log: list[AttemptRead]


class PageRead(BaseModel):
    id: str
    trigger: str
    subject_kind: str
    subject_id: str
    policy_name: str
    status: str
    steps_done: int
    steps_total: int
    next_step_at: datetime | None
    occurrences: int
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_by_name: str | None = Field(default=None, description="who, by username")
    acknowledged_via: str | None
    resolved_at: datetime | None
    notifications: list[NotificationRead] = Field(default_factory=list)


class TemplateRead(BaseModel):
    name: str
    description: str
    fields: list[str]
    languages: list[str]
    detail_channels: list[ChannelKind]
    example: dict[str, Any]


class PreviewRequest(Strict):
    language: Language = "en"
    channel: ChannelKind = ChannelKind.SMS
    data: dict[str, str | int | float] | None = Field(
        default=None, description="template data; omitted: the template's example"
    )


class PreviewRead(BaseModel):
    subject: str
    text: str
    detailed: bool = Field(description="whether this channel gets the detailed text")


class AckRequest(Strict):
    token: str = Field(min_length=10, max_length=200)


class AckResult(BaseModel):
    page_id: str
    status: str
    subject_kind: str
    subject_id: str
    acknowledged_by: str | None
    acknowledged_via: str | None


class InboxItem(BaseModel):
    id: str
    page_id: str | None
    subject: str
    text: str
    status: str
    created_at: datetime


class DirectoryRead(BaseModel):
    id: str
    username: str
    role: str
