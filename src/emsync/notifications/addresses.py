"""Contact addresses, pure: what a valid e-mail address, E.164 number, webhook URL and Web Push
subscription look like, in one normalized form each. Errors name what is wrong."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from emsync.notifications.escalation import ChannelKind

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class InvalidAddress(ValueError):
    """The address is not usable on its channel; the message says why."""


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normalize(kind: ChannelKind, address: str) -> str:
    """The address in the one form it is stored and compared in."""
    address = address.strip()
    if kind is ChannelKind.EMAIL:
        try:
            return str(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise InvalidAddress(f"not a valid e-mail address: {exc}") from None
    if kind is ChannelKind.SMS:
        compact = re.sub(r"[\s().-]", "", address)
        if not E164.match(compact):
            raise InvalidAddress(
                "not an E.164 phone number: + then the country code and number, 8-15 digits"
            )
        return compact
    if kind is ChannelKind.WEBHOOK:
        return _webhook_url(address)
    if kind is ChannelKind.PUSH:
        return _push_subscription(address)
    raise InvalidAddress("in-app notifications need no address")


def _webhook_url(address: str) -> str:
    parts = urlsplit(address)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise InvalidAddress("a webhook address is an absolute https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise InvalidAddress("a webhook to another host must use https://")
    if parts.username or parts.password:
        raise InvalidAddress("put no credentials in a webhook URL; it is signed instead")
    return address


def _push_subscription(address: str) -> str:
    """A PushSubscription as the browser's `toJSON()` gives it: endpoint and keys."""
    try:
        sub = json.loads(address)
        endpoint = sub["endpoint"]
        p256dh = _b64url(sub["keys"]["p256dh"])
        auth = _b64url(sub["keys"]["auth"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidAddress(
            "a push subscription is the JSON of PushSubscription.toJSON(): "
            "endpoint and keys.p256dh, keys.auth"
        ) from exc
    parts = urlsplit(str(endpoint))
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise InvalidAddress("a push endpoint is an https:// URL")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise InvalidAddress("keys.p256dh is not an uncompressed P-256 public key")
    if len(auth) != 16:
        raise InvalidAddress("keys.auth is not a 16-byte secret")
    return json.dumps({"endpoint": endpoint, "keys": sub["keys"]}, separators=(",", ":"))


def masked(kind: ChannelKind, normalized: str) -> str:
    """What a list shows of an address: enough to recognise it, not to harvest it."""
    if kind is ChannelKind.EMAIL:
        local, _, domain = normalized.partition("@")
        return f"{local[:1]}…@{domain}"
    if kind is ChannelKind.SMS:
        return f"{normalized[:3]}…{normalized[-3:]}"
    if kind is ChannelKind.PUSH:
        host = urlsplit(json.loads(normalized)["endpoint"]).hostname or "?"
        return f"browser via {host}"
    return normalized
