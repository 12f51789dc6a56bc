"""Web Push: the payload encrypted for the browser's subscription (RFC 8291, aes128gcm via
`http_ece`), sent to its push service (RFC 8030) with a VAPID signature (RFC 8292, `py_vapid`).
The push service only relays ciphertext; `Topic` lets it replace an undelivered copy."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from emsync.notifications.channels import Accepted, DeliveryError, Outgoing
from emsync.notifications.escalation import ChannelKind


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_vapid(private_key: str) -> Vapid02:
    """A VAPID key from PEM, or from the raw 32-byte private value in base64url."""
    text = private_key.strip()
    if text.startswith("-----BEGIN"):
        return Vapid02.from_pem(text.encode())
    return Vapid02.from_raw(text.encode())


def generate_vapid_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def application_server_key(vapid: Vapid02) -> str:
    """The public key a browser passes to `pushManager.subscribe` (uncompressed, base64url)."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


def encrypt(subscription: dict[str, object], payload: bytes) -> bytes:
    keys = subscription["keys"]
    assert isinstance(keys, dict)
    sender = ec.generate_private_key(ec.SECP256R1())  # a fresh key per message (RFC 8291 §3.1)
    body: bytes = http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=sender,
        dh=_b64url_decode(str(keys["p256dh"])),
        auth_secret=_b64url_decode(str(keys["auth"])),
        version="aes128gcm",
    )
    return body


def topic(idempotency_key: str) -> str:
    # RFC 8030 §5.4: at most 32 characters of the URL-safe base64 alphabet.
    return _b64url(hashlib.sha256(idempotency_key.encode()).digest())[:32]


class WebPushChannel:
    kind = ChannelKind.PUSH

    def __init__(self, *, vapid: Vapid02, subject: str, ttl: int = 3600, timeout: float = 10.0):
        self._vapid = vapid
        self._subject = subject
        self._ttl = ttl
        self._http = httpx.AsyncClient(timeout=timeout)

    async def send(self, message: Outgoing) -> Accepted:
        subscription = json.loads(message.address)
        endpoint = str(subscription["endpoint"])
        payload = json.dumps(
            {
                "title": message.subject,
                "body": message.text,
                "tag": topic(message.idempotency_key),
                **message.payload,
            },
            separators=(",", ":"),
        ).encode()
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": self._subject}
        headers = dict(self._vapid.sign(claims))
        headers.update(
            {
                "TTL": str(self._ttl),
                "Urgency": "high",
                "Topic": topic(message.idempotency_key),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
            }
        )
        try:
            response = await self._http.post(
                endpoint, content=encrypt(subscription, payload), headers=headers
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"push service unreachable: {type(exc).__name__}") from None
        if response.status_code in (404, 410):
            raise DeliveryError("the push subscription has expired", permanent=True)
        if response.status_code == 413:
            raise DeliveryError("push payload too large", permanent=True)
        if response.status_code >= 400:
            raise DeliveryError(f"push service HTTP {response.status_code}")
        return Accepted(
            provider_id=response.headers.get("location"), detail=f"HTTP {response.status_code}"
        )

    async def close(self) -> None:
        await self._http.aclose()
