"""Outbound webhooks signed per the Standard Webhooks specification (`standardwebhooks`):
`webhook-id` (the notification's idempotency key, for the receiver's deduplication),
`webhook-timestamp` (the receiver's replay window) and `webhook-signature` (HMAC-SHA256)."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from emsync.notifications.channels import Accepted, DeliveryError, Outgoing
from emsync.notifications.escalation import ChannelKind


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def signed_request(message: Outgoing, now: datetime) -> tuple[bytes, dict[str, str]]:
    assert message.secret is not None
    body = json.dumps(
        {
            "type": message.payload.get("type", "notification"),
            "timestamp": now.isoformat(),
            "data": {"subject": message.subject, "text": message.text, **message.payload},
        },
        separators=(",", ":"),
    ).encode()
    signature = Webhook(message.secret).sign(message.idempotency_key, now, body)
    return body, {
        "content-type": "application/json",
        "webhook-id": message.idempotency_key,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


class WebhookChannel:
    kind = ChannelKind.WEBHOOK

    def __init__(self, *, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def send(self, message: Outgoing) -> Accepted:
        body, headers = signed_request(message, datetime.now(UTC))
        try:
            response = await self._http.post(message.address, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError("webhook receiver timed out") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook receiver unreachable: {type(exc).__name__}") from None
        if 200 <= response.status_code < 300:
            return Accepted(delivered=True, detail=f"HTTP {response.status_code}")
        # 410 Gone: the receiver says the endpoint is retired. Other 4xx may be a deploy in
        # progress on the receiver's side; they are retried like 5xx, within max attempts.
        raise DeliveryError(
            f"webhook receiver HTTP {response.status_code}", permanent=response.status_code == 410
        )

    async def close(self) -> None:
        await self._http.aclose()
