"""SMS through a Twilio-compatible Messages API (the subset EMsync uses): create a message with
a status callback URL, and read the provider's status callbacks and inbound replies, whose
X-Twilio-Signature is checked before anything in them is believed."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from emsync.notifications.channels import Accepted, DeliveryError, Outgoing
from emsync.notifications.escalation import ChannelKind
from emsync.notifications.lifecycle import Delivery

API_VERSION = "2010-04-01"
# Twilio's message statuses -> EMsync's; the others (accepted, queued, sending, ...) are
# intermediate and change nothing.
STATUS: dict[str, Delivery] = {
    "sent": Delivery.SENT,
    "delivered": Delivery.DELIVERED,
    "read": Delivery.DELIVERED,
    "undelivered": Delivery.FAILED,
    "failed": Delivery.FAILED,
}
# Twilio error codes that no retry can fix (invalid or unreachable number, opted out, blocked).
PERMANENT_ERRORS = {21211, 21212, 21408, 21606, 21610, 21614, 30003, 30004, 30005, 30006, 30007}


@dataclass(frozen=True, slots=True)
class StatusCallback:
    message_sid: str
    status: str
    error_code: int | None


@dataclass(frozen=True, slots=True)
class InboundSms:
    message_sid: str
    sender: str
    body: str


class TwilioSms:
    kind = ChannelKind.SMS

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        status_callback: str | None,
        timeout: float = 10.0,
    ) -> None:
        self._path = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self._sender = sender
        self._callback = status_callback
        self._http = httpx.AsyncClient(
            base_url=base_url, auth=(account_sid, auth_token), timeout=timeout
        )

    async def send(self, message: Outgoing) -> Accepted:
        form = {"To": message.address, "From": self._sender, "Body": message.text}
        if self._callback:
            form["StatusCallback"] = self._callback
        try:
            response = await self._http.post(
                self._path,
                data=form,
                # Providers that honour it create the message once however often it is retried.
                headers={"Idempotency-Key": message.idempotency_key},
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS provider unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            code = _error_code(response)
            permanent = (
                response.status_code in (400, 404, 422) and code in PERMANENT_ERRORS
            ) or response.status_code in (401, 403)
            raise DeliveryError(
                f"SMS provider {response.status_code} (code {code})", permanent=permanent
            )
        try:
            body = response.json()
            sid = str(body["sid"])
        except (ValueError, KeyError, TypeError):
            raise DeliveryError("SMS provider answered without a message sid") from None
        return Accepted(provider_id=sid, detail=f"provider status {body.get('status', '?')}")

    async def close(self) -> None:
        await self._http.aclose()


def _error_code(response: httpx.Response) -> int | None:
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return int(code) if isinstance(code, int) else None


def parse_status(form: dict[str, str]) -> StatusCallback | None:
    sid, status = form.get("MessageSid"), form.get("MessageStatus")
    if not sid or not status:
        return None
    code = form.get("ErrorCode")
    return StatusCallback(
        message_sid=sid, status=status, error_code=int(code) if code and code.isdigit() else None
    )


def parse_inbound(form: dict[str, str]) -> InboundSms | None:
    sid, sender = form.get("MessageSid"), form.get("From")
    if not sid or not sender:
        return None
    return InboundSms(message_sid=sid, sender=sender, body=form.get("Body", ""))


def reply_keyword(body: str) -> tuple[str, str | None] | None:
    """("ack", code or None) for replies like "ACK", "ack 4821", "OK 4821", "kuittaus 4821"."""
    words = body.strip().upper().replace(",", " ").split()
    if not words or words[0] not in {"ACK", "OK", "KUITTAUS", "KUITTAA", "K"}:
        return None
    code = words[1] if len(words) > 1 and words[1].isdigit() else None
    return "ack", code
