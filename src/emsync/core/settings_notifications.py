"""Settings section of notifications."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class NotificationSettings(BaseModel):
    """Channels, the delivery worker and anti-flood limits of the notifications domain."""

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "the dashboard's address as people reach it: links in e-mail, SMS and push "
            "(production: https, required)"
        ),
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; unset: no e-mail")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (submission)")
    smtp_starttls: bool = Field(
        default=True, description="require STARTTLS before authenticating and sending"
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle the SMTP server's certificate must chain to"
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password")
    smtp_from: str = Field(
        default="EMsync <emsync@localhost>", description="From: of notification e-mail"
    )
    sms_base_url: str | None = Field(
        default=None,
        description="Twilio-compatible Messages API base (`https://api.twilio.com`); unset: no SMS",
    )
    sms_account_sid: str | None = Field(default=None, description="SMS provider account SID")
    sms_auth_token: SecretStr | None = Field(
        default=None, description="SMS provider auth token (also signs its callbacks)"
    )
    sms_from: str | None = Field(default=None, description="sending number (E.164)")
    vapid_private_key: SecretStr | None = Field(
        default=None,
        description="Web Push VAPID key (PEM or raw base64url P-256); development: generated",
    )
    vapid_subject: str = Field(
        default="mailto:emsync@localhost", description="VAPID `sub` claim: who push services call"
    )
    send_timeout_seconds: float = Field(
        default=10.0, gt=0, description="one delivery attempt gives up after this"
    )
    max_attempts: int = Field(
        default=8, ge=1, le=50, description="delivery attempts before a notification fails"
    )
    retry_base_seconds: float = Field(
        default=5.0, ge=0, description="first retry delay (doubles per attempt, with jitter)"
    )
    retry_max_seconds: float = Field(default=600.0, ge=0, description="longest retry delay")
    poll_seconds: float = Field(
        default=1.0, gt=0, description="how often the worker looks for due notifications"
    )
    wake_on_page: bool = Field(
        default=True,
        description="act on a new page or new outbox rows at once rather than at the next poll "
        "(tests turn it off to drive the rounds themselves)",
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a claimed notification returns to the queue after this if its worker died",
    )
    batch_size: int = Field(default=50, ge=1, le=1000, description="notifications per round")
    concurrency: int = Field(default=10, ge=1, le=200, description="sends in flight per worker")
    rate_per_user: int = Field(
        default=12, ge=1, description="notifications to one person per rate window, all channels"
    )
    rate_per_channel: dict[str, int] = Field(
        default={"sms": 6, "email": 6, "push": 12, "webhook": 60, "in_app": 60},
        description="notifications to one person per rate window on each channel",
    )
    rate_window_seconds: float = Field(
        default=600.0, gt=0, description="window of the rate limits; held items go in a digest"
    )
    ack_link_hours: float = Field(
        default=12.0, gt=0, description="how long an acknowledgement link stays valid"
    )
    verification_minutes: float = Field(
        default=15.0, gt=0, description="how long a contact point's verification code is valid"
    )
