"""E-mail over SMTP: STARTTLS required by default, AUTH when configured, a small pool of open
connections. The Message-ID is derived from the notification's idempotency key, so a copy
resent after a crash carries the same id and mail systems deduplicate it."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import aiosmtplib

from emsync.notifications.channels import Accepted, DeliveryError, Outgoing
from emsync.notifications.escalation import ChannelKind


def message_id(idempotency_key: str) -> str:
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@emsync>"


class SmtpChannel:
    kind = ChannelKind.EMAIL

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        timeout: float = 10.0,
        pool_size: int = 4,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._starttls, self._username, self._password = starttls, username, password
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._timeout = timeout
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(pool_size)

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message.idempotency_key)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to pages
        mail.set_content(message.text)
        return mail

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            start_tls=self._starttls,  # True: the server must offer STARTTLS, or we refuse
            tls_context=self._tls,
            timeout=self._timeout,
        )
        await client.connect()
        if self._username:
            await client.login(self._username, self._password or "")
        return client

    async def send(self, message: Outgoing) -> Accepted:
        mail = self.build(message)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                errors, response = await client.send_message(mail)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                await _discard(client)
                raise DeliveryError(f"recipient refused: {exc}", permanent=True) from None
            except aiosmtplib.SMTPResponseException as exc:
                await _discard(client)
                raise DeliveryError(
                    f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600
                ) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await _discard(client)
                raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None
            self._idle.append(client)
        if errors:
            raise DeliveryError(f"recipient refused: {errors}", permanent=True)
        return Accepted(provider_id=mail["Message-ID"], detail=response[:200])

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _discard(client)


async def _discard(client: aiosmtplib.SMTP | None) -> None:
    if client is None or not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()
