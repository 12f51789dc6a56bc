"""Notifications' part of the composition root: called from `emsync.bootstrap` only. Builds the
channels that are configured and the worker (its reactions and WebSocket channels are rows of
`emsync.bootstrap`'s tables)."""

from __future__ import annotations

from dataclasses import dataclass

from emsync.core.background import BackgroundService, ProcessRole
from emsync.core.realtime import Hub
from emsync.core.runtime import Runtime
from emsync.core.settings import NotificationSettings
from emsync.notifications.channels import Channel, InAppChannel
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.metrics import NotificationMetrics
from emsync.notifications.outbox import Keys
from emsync.notifications.sms import TwilioSms
from emsync.notifications.smtp import SmtpChannel
from emsync.notifications.webhooks import WebhookChannel
from emsync.notifications.webpush import WebPushChannel, application_server_key, load_vapid
from emsync.notifications.worker import NotificationWorker

PAGING_CHANNEL = "paging"  # page and delivery status changes, for the paging screen


@dataclass(frozen=True, slots=True)
class PushKey:
    public: str


def build_channels(settings: NotificationSettings, hub: Hub) -> dict[ChannelKind, Channel]:
    """One channel per kind that is configured; a notification for another fails visibly."""
    timeout = settings.send_timeout_seconds
    channels: dict[ChannelKind, Channel] = {
        ChannelKind.IN_APP: InAppChannel(hub),
        ChannelKind.WEBHOOK: WebhookChannel(timeout=timeout),
    }
    if settings.smtp_host:
        channels[ChannelKind.EMAIL] = SmtpChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            ca_file=settings.smtp_ca_file,
            timeout=timeout,
        )
    if settings.sms_base_url and settings.sms_account_sid and settings.sms_auth_token:
        channels[ChannelKind.SMS] = TwilioSms(
            base_url=settings.sms_base_url,
            account_sid=settings.sms_account_sid,
            auth_token=settings.sms_auth_token.get_secret_value(),
            sender=settings.sms_from or "",
            status_callback=settings.public_url.rstrip("/") + "/api/notifications/sms/status",
            timeout=timeout,
        )
    if settings.vapid_private_key is not None:
        channels[ChannelKind.PUSH] = WebPushChannel(
            vapid=load_vapid(settings.vapid_private_key.get_secret_value()),
            subject=settings.vapid_subject,
            timeout=timeout,
        )
    return channels


def provide(runtime: Runtime) -> None:
    settings = runtime.settings
    secret = settings.auth.secret_key
    if secret is None:
        raise RuntimeError("EMSYNC_AUTH__SECRET_KEY is needed to sign acknowledgement links")
    keys = Keys.from_secret(secret.get_secret_value())
    metrics = NotificationMetrics(runtime.metrics.registry)
    runtime.provide(keys)
    runtime.provide(metrics)
    vapid = settings.notifications.vapid_private_key
    if vapid is not None:
        runtime.provide(PushKey(application_server_key(load_vapid(vapid.get_secret_value()))))
    channels = build_channels(settings.notifications, runtime.get(Hub))
    runtime.provide(NotificationWorker(runtime, channels=channels, keys=keys, metrics=metrics))


def background_services(runtime: Runtime) -> list[tuple[ProcessRole, BackgroundService]]:
    return [(ProcessRole.WORKER, runtime.get(NotificationWorker))]
