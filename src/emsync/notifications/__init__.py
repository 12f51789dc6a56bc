"""Notifications and on-call paging: channels (e-mail, SMS, Web Push, webhooks, in-app), the
durable outbox and its worker, on-call schedules, escalation policies, templates.

Other domains use only what is exported here, inside their own transaction:

- `enqueue(uow=, keyring=, template=, recipients=, data=, idempotency_key=, now=)`: notify
  people (`Recipient.user(user_id, *channels)`) or bare addresses (`Recipient.at(channel,
  address)`); the rows commit with the caller's change and the worker delivers them.
- `TEMPLATES`: the template names and the data each needs (`notice` takes a title and body).
- Events: `PageOpened`, `PageEscalated`, `PageAcknowledged`, `PageClosed`,
  `NotificationStatusChanged`.
"""

from emsync.notifications.escalation import ChannelKind
from emsync.notifications.events import (
    NotificationStatusChanged,
    PageAcknowledged,
    PageClosed,
    PageEscalated,
    PageOpened,
)
from emsync.notifications.public import Recipient, enqueue
from emsync.notifications.templates import CATALOGUE as TEMPLATES

__all__ = [
    "TEMPLATES",
    "ChannelKind",
    "NotificationStatusChanged",
    "PageAcknowledged",
    "PageClosed",
    "PageEscalated",
    "PageOpened",
    "Recipient",
    "enqueue",
]
