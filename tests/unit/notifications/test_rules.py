"""The pure rules of notifications, without a database or network: who is on call, what an
escalation policy fires next, templates per language and channel, signed links, addresses,
anti-flood limits, the delivery lifecycle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from emsync.notifications import addresses, escalation, flood, oncall, signing, sms, templates
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.lifecycle import (
    Delivery,
    PageStatus,
    may_move,
    page_may_move,
    retry_delay,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ROTA = oncall.Rotation(start=T0, shift=timedelta(hours=12), members=("ana", "ben", "cai"))


def test_the_rotation_hands_over_every_shift_in_order_and_wraps() -> None:
    at = [T0 + timedelta(hours=h) for h in (0, 11, 12, 24, 36, 48)]

    def who(t: datetime) -> str:
        shift = oncall.on_call(ROTA, [], t)
        assert shift is not None
        return shift.user_id

    assert [who(t) for t in at] == [
        "ana",
        "ana",
        "ben",
        "cai",
        "ana",
        "ben",
    ]
    before = oncall.on_call(ROTA, [], T0 - timedelta(hours=1))
    assert before is not None
    assert (before.user_id, before.starts_at) == ("cai", T0 - timedelta(hours=12))


def test_an_override_covers_its_window_and_cuts_the_shift_short() -> None:
    cover = oncall.Override("dan", T0 + timedelta(hours=3), T0 + timedelta(hours=5))
    assert oncall.on_call(ROTA, [cover], T0 + timedelta(hours=4)).user_id == "dan"  # type: ignore[union-attr]
    assert oncall.on_call(ROTA, [cover], T0 + timedelta(hours=5)).user_id == "ana"  # type: ignore[union-attr]
    shifts = oncall.upcoming(ROTA, [cover], T0 + timedelta(hours=1), 4)
    assert [(s.user_id, s.override) for s in shifts] == [
        ("ana", False),
        ("dan", True),
        ("ana", False),
        ("ben", False),
    ]
    assert shifts[0].ends_at == T0 + timedelta(hours=3)
    assert shifts[2].starts_at == T0 + timedelta(hours=5)


def test_an_empty_rotation_has_nobody_on_call() -> None:
    empty = oncall.Rotation(start=T0, shift=timedelta(hours=8), members=())
    assert oncall.on_call(empty, [], T0) is None


def test_the_policy_steps_then_repeats_then_is_exhausted() -> None:
    step = escalation.Step(
        0, (escalation.Target(escalation.TargetKind.ROLE, "clinician"),), (ChannelKind.PUSH,)
    )
    later = escalation.Step(120, step.targets, (ChannelKind.SMS,))
    policy = escalation.Policy(steps=(step, later), repeat=1, repeat_after_seconds=600)
    plans = [escalation.plan(policy, n) for n in range(5)]
    assert [(p.index, p.round, p.delay_seconds) for p in plans if p] == [
        (0, 0, 0),
        (1, 0, 120),
        (0, 1, 600),
        (1, 1, 120),
    ]
    assert plans[4] is None


def test_the_default_policy_is_the_old_role_chain() -> None:
    refs = [s.targets[0].ref for s in escalation.DEFAULT_POLICY.steps]
    assert refs == ["clinician", "hospital_coordinator", "admin"]


@pytest.mark.parametrize("language", templates.LANGUAGES)
def test_sms_and_email_get_the_minimal_text_and_push_the_detail(language: str) -> None:
    data = {"level": "high", "kind": "news2", "patient_ref": "3f2a9c01", "step": 2}
    links = {"dashboard": "https://e/paging", "ack_link": "https://e/ack/t", "reply_code": "4821"}
    for channel in (ChannelKind.SMS, ChannelKind.EMAIL):
        text = templates.render(
            "clinical_alert", language=language, channel=channel, data=data, links=links
        )
        assert "3f2a9c01" not in text.text
        assert not text.detailed
        assert "https://e/ack/t" in text.text
    sms_text = templates.render(
        "clinical_alert", language=language, channel=ChannelKind.SMS, data=data, links=links
    )
    assert "ACK 4821" in sms_text.text
    push = templates.render(
        "clinical_alert", language=language, channel=ChannelKind.PUSH, data=data, links=links
    )
    assert push.detailed
    assert "3f2a9c01" in push.text


def test_every_template_has_every_language_and_renders_its_example() -> None:
    for template in templates.CATALOGUE.values():
        for language in templates.LANGUAGES:
            out = templates.render(
                template.name,
                language=language,
                channel=ChannelKind.EMAIL,
                data=template.example,
                links={"dashboard": "https://e/"},
            )
            assert out.subject
            assert out.text


def test_a_template_names_the_missing_field_and_keeps_braces_in_data_literal() -> None:
    with pytest.raises(templates.TemplateError) as missing:
        templates.render(
            "clinical_alert", language="en", channel=ChannelKind.SMS, data={"level": "x"}, links={}
        )
    assert missing.value.field == "data.kind"
    out = templates.render(
        "notice",
        language="en",
        channel=ChannelKind.PUSH,
        data={"title": "{dashboard}", "body": "{0}"},
        links={},
    )
    assert out.subject == "{dashboard}"


def test_ack_tokens_verify_only_with_their_key_and_unchanged() -> None:
    key = signing.derive_key("s" * 40, "ack-link")
    token_id, token = signing.new_ack_token(key)
    assert signing.ack_token_id(key, token) == token_id
    assert signing.ack_token_id(signing.derive_key("t" * 40, "ack-link"), token) is None
    for i in (len(token_id) + 3, len(token) - 1):  # a tag character, and its last (padding bits)
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert signing.ack_token_id(key, changed) is None
    assert signing.ack_token_id(key, "garbage") is None


def test_twilio_signature_matches_the_documented_example() -> None:
    # Twilio's published request-validation example (its SDKs' RequestValidator tests).
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    assert signing.twilio_signature("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert not signing.twilio_signature_valid(
        "12345", url + "&x=1", params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        (ChannelKind.SMS, "+358 (40) 123-4567", "+358401234567"),
        (ChannelKind.EMAIL, "ana@Example.ORG", "ana@example.org"),
        (
            ChannelKind.WEBHOOK,
            "https://hooks.example.org/emsync",
            "https://hooks.example.org/emsync",
        ),
    ],
)
def test_addresses_are_stored_in_one_normal_form(
    kind: ChannelKind, given: str, stored: str
) -> None:
    assert addresses.normalize(kind, given) == stored


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        (ChannelKind.SMS, "0401234567"),
        (ChannelKind.SMS, "+12"),
        (ChannelKind.EMAIL, "ana@"),
        (ChannelKind.WEBHOOK, "ftp://x"),
        (ChannelKind.WEBHOOK, "https://user:pw@example.org/"),
        (
            ChannelKind.PUSH,
            json.dumps({"endpoint": "https://p/x", "keys": {"p256dh": "AA", "auth": "AA"}}),
        ),
        (ChannelKind.PUSH, "not json"),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(kind: ChannelKind, given: str) -> None:
    with pytest.raises(addresses.InvalidAddress):
        addresses.normalize(kind, given)


def test_rate_limits_hold_per_channel_and_per_person_but_never_a_new_emergency_by_total() -> None:
    limits = flood.Limits(per_user=3, per_channel={"sms": 2})
    assert flood.admits(limits, flood.Sent(total=1, by_channel={"sms": 1}), "sms", urgent=False)
    assert not flood.admits(limits, flood.Sent(total=2, by_channel={"sms": 2}), "sms", urgent=True)
    assert not flood.admits(limits, flood.Sent(total=3, by_channel={}), "push", urgent=False)
    assert flood.admits(limits, flood.Sent(total=3, by_channel={}), "push", urgent=True)
    assert flood.group_key("telemetry.alert.news2", "p1") == flood.group_key(
        "telemetry.alert.stale", "p1"
    )


def test_sms_reply_keywords_in_both_languages() -> None:
    assert sms.reply_keyword(" ack 4821 ") == ("ack", "4821")
    assert sms.reply_keyword("Kuittaus") == ("ack", None)
    assert sms.reply_keyword("who is this") is None


def test_lifecycles_are_tables_and_backoff_grows_with_jitter() -> None:
    assert may_move(Delivery.QUEUED, Delivery.SENDING)
    assert not may_move(Delivery.FAILED, Delivery.QUEUED)
    assert page_may_move(PageStatus.ACKNOWLEDGED, PageStatus.OPEN)
    assert not page_may_move(PageStatus.RESOLVED, PageStatus.OPEN)
    assert retry_delay(1, base=5, cap=600, jitter=1.0) == 5
    assert retry_delay(4, base=5, cap=600, jitter=1.0) == 40
    assert retry_delay(20, base=5, cap=600, jitter=0.0) == 300
