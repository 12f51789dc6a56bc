"""Message templates, pure: one per kind of notification, with English and Finnish variants.

Each language has a `detail` text, which may carry clinical content, and a `minimal` text with
no patient content and a link to the dashboard. A template names the channels allowed the
detail; SMS and e-mail leave the building, so by default they get the minimal text only.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emsync.notifications.escalation import ChannelKind

LANGUAGES = ("en", "fi")
DEFAULT_LANGUAGE = "en"
_INSIDE = frozenset({ChannelKind.PUSH, ChannelKind.IN_APP})


@dataclass(frozen=True, slots=True)
class Text:
    subject: str
    detail: str
    minimal: str


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    description: str
    fields: tuple[str, ...]  # data the caller must give
    texts: Mapping[str, Text]  # per language
    detail_channels: frozenset[ChannelKind] = field(default=_INSIDE)
    example: Mapping[str, Any] = field(default_factory=dict)


class TemplateError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    detailed: bool


CATALOGUE: dict[str, Template] = {}


def _add(template: Template) -> None:
    assert set(template.texts) == set(LANGUAGES), template.name
    CATALOGUE[template.name] = template


_add(
    Template(
        name="clinical_alert",
        description="A patient's clinical alert (NEWS2 deterioration, stale monitor)",
        fields=("level", "kind", "patient_ref", "step"),
        texts={
            "en": Text(
                subject="EMsync {level} alert ({kind})",
                detail="{kind} alert, level {level}, patient {patient_ref}. Escalation step "
                "{step}. {ack_hint}",
                minimal="EMsync: a {level} clinical alert needs you. {ack_hint}",
            ),
            "fi": Text(
                subject="EMsync-hälytys: {level} ({kind})",
                detail="{kind}-hälytys, taso {level}, potilas {patient_ref}. Eskalaatiovaihe "
                "{step}. {ack_hint}",
                minimal="EMsync: {level}-tason kliininen hälytys odottaa sinua. {ack_hint}",
            ),
        },
        example={"level": "high", "kind": "news2", "patient_ref": "3f2a9c", "step": 1},
    )
)
_add(
    Template(
        name="handoff_overdue",
        description="A pre-arrival handoff the hospital has not acknowledged in time",
        fields=("hospital_ref", "minutes", "step"),
        texts={
            "en": Text(
                subject="EMsync: handoff not acknowledged",
                detail="The hospital {hospital_ref} has not acknowledged a handoff sent "
                "{minutes} min ago: phone them. {ack_hint}",
                minimal="EMsync: a handoff has not been acknowledged for {minutes} min. {ack_hint}",
            ),
            "fi": Text(
                subject="EMsync: ennakkoilmoitusta ei kuitattu",
                detail="Sairaala {hospital_ref} ei ole kuitannut {minutes} min sitten "
                "lähetettyä ennakkoilmoitusta: soita sinne. {ack_hint}",
                minimal="EMsync: ennakkoilmoitusta ei ole kuitattu {minutes} minuuttiin. "
                "{ack_hint}",
            ),
        },
        example={"hospital_ref": "Meilahti", "minutes": 3, "step": 1},
    )
)
_add(
    Template(
        name="contact_verification",
        description="The code that proves a contact point reaches its owner",
        fields=("code",),
        texts={
            "en": Text(
                subject="EMsync verification code",
                detail="Your EMsync verification code is {code}.",
                minimal="Your EMsync verification code is {code}.",
            ),
            "fi": Text(
                subject="EMsync-vahvistuskoodi",
                detail="EMsync-vahvistuskoodisi on {code}.",
                minimal="EMsync-vahvistuskoodisi on {code}.",
            ),
        },
        detail_channels=frozenset(ChannelKind),
        example={"code": "482913"},
    )
)
_add(
    Template(
        name="test_message",
        description="The test-send button: proves a channel works end to end",
        fields=("sender",),
        texts={
            "en": Text(
                subject="EMsync test message",
                detail="Test message from EMsync, sent by {sender}. No action needed.",
                minimal="Test message from EMsync, sent by {sender}. No action needed.",
            ),
            "fi": Text(
                subject="EMsync-testiviesti",
                detail="EMsyncin testiviesti, lähettäjä {sender}. Ei toimenpiteitä.",
                minimal="EMsyncin testiviesti, lähettäjä {sender}. Ei toimenpiteitä.",
            ),
        },
        detail_channels=frozenset(ChannelKind),
        example={"sender": "admin"},
    )
)
_add(
    Template(
        name="digest",
        description="What a rate limit held back, in one message",
        fields=("count", "subjects"),
        texts={
            "en": Text(
                subject="EMsync: {count} notifications held back",
                detail="{count} notifications were held back to avoid flooding you: "
                "{subjects}. Open {dashboard}",
                minimal="EMsync: {count} more notifications. Open {dashboard}",
            ),
            "fi": Text(
                subject="EMsync: {count} ilmoitusta koottu",
                detail="{count} ilmoitusta koottiin yhteen tulvimisen estämiseksi: "
                "{subjects}. Avaa {dashboard}",
                minimal="EMsync: {count} ilmoitusta lisää. Avaa {dashboard}",
            ),
        },
        example={"count": 7, "subjects": "EMsync high alert (news2) x7"},
    )
)
_add(
    Template(
        name="notice",
        description="A message another domain writes itself (intake, public alerts)",
        fields=("title", "body"),
        texts={
            "en": Text(subject="{title}", detail="{body}", minimal="{title}. Open {dashboard}"),
            "fi": Text(subject="{title}", detail="{body}", minimal="{title}. Avaa {dashboard}"),
        },
        detail_channels=frozenset(ChannelKind),
        example={"title": "Your relative has arrived", "body": "They are in ward 4."},
    )
)

ACK_HINT = {
    "en": {
        "sms": "Reply ACK {reply_code} or open {ack_link}",
        "other": "Acknowledge: {ack_link}",
        "none": "Open {dashboard}",
    },
    "fi": {
        "sms": "Vastaa ACK {reply_code} tai avaa {ack_link}",
        "other": "Kuittaa: {ack_link}",
        "none": "Avaa {dashboard}",
    },
}


class _Strict(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise TemplateError(f"data.{key}", f"the template needs data field {key!r}")


def render(
    name: str,
    *,
    language: str,
    channel: ChannelKind,
    data: Mapping[str, Any],
    links: Mapping[str, str],
) -> Rendered:
    """The message for one channel. `links`: dashboard, and for a page ack_link, reply_code."""
    template = CATALOGUE.get(name)
    if template is None:
        raise TemplateError("template", f"no template named {name!r}")
    if language not in LANGUAGES:
        raise TemplateError("language", f"language must be one of {', '.join(LANGUAGES)}")
    missing = [f for f in template.fields if f not in data]
    if missing:
        raise TemplateError(f"data.{missing[0]}", f"the template needs data field {missing[0]!r}")
    values = _Strict({k: _plain(v) for k, v in data.items()})
    values.update(links)
    hints = ACK_HINT[language]
    if "ack_link" in links:
        hint = (
            hints["sms"] if channel is ChannelKind.SMS and "reply_code" in links else hints["other"]
        )
    else:
        hint = hints["none"]
    values.setdefault("dashboard", "")
    values["ack_hint"] = string.Formatter().vformat(hint, (), values)
    text = template.texts[language]
    detailed = channel in template.detail_channels
    body = text.detail if detailed else text.minimal
    formatter = string.Formatter()
    return Rendered(
        subject=formatter.vformat(text.subject, (), values).strip(),
        text=formatter.vformat(body, (), values).strip(),
        detailed=detailed,
    )


def _plain(value: Any) -> str:
    # Data is shown, never interpreted: braces in it stay literal text in the output.
    return str(value).replace("\r", " ").replace("\n", " ")[:500]
