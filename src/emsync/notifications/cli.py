"""`emsync notify sandbox`: the local providers the tests use, for a demo on one machine."""

from __future__ import annotations

import secrets
import tempfile
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

notify_app = typer.Typer(
    help="Notifications: local SMS, push, webhook and SMTP sandbox.", no_args_is_help=True
)
console = Console(stderr=True, soft_wrap=True)


@notify_app.command("sandbox")
def sandbox(
    port: Annotated[int, typer.Option(help="HTTP port: SMS API, push service, webhooks")] = 8025,
    smtp_port: Annotated[int, typer.Option(help="SMTP port (STARTTLS + AUTH)")] = 8587,
    public_url: Annotated[
        str, typer.Option(help="EMsync's address, where the SMS status callbacks go")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Run local stand-ins for the SMS provider (Twilio-compatible), a Web Push service, a
    webhook receiver and an SMTP server on 127.0.0.1, and print the settings that point EMsync
    at them. What arrives is listed at http://127.0.0.1:PORT/sandbox/messages."""
    from emsync.notifications.sandbox import HttpSandbox, SmtpSandbox

    http = HttpSandbox(port).start()
    folder = Path(tempfile.mkdtemp(prefix="emsync-sandbox-"))
    smtp_password = secrets.token_urlsafe(12)
    smtp = SmtpSandbox(smtp_port, folder, username="emsync", password=smtp_password).start()
    env = {
        "EMSYNC_NOTIFICATIONS__PUBLIC_URL": public_url,
        "EMSYNC_NOTIFICATIONS__SMS_BASE_URL": http.base,
        "EMSYNC_NOTIFICATIONS__SMS_ACCOUNT_SID": http.state.account_sid,
        "EMSYNC_NOTIFICATIONS__SMS_AUTH_TOKEN": http.state.auth_token,
        "EMSYNC_NOTIFICATIONS__SMS_FROM": "+15005550006",
        "EMSYNC_NOTIFICATIONS__SMTP_HOST": "127.0.0.1",
        "EMSYNC_NOTIFICATIONS__SMTP_PORT": str(smtp_port),
        "EMSYNC_NOTIFICATIONS__SMTP_CA_FILE": str(smtp.cert),
        "EMSYNC_NOTIFICATIONS__SMTP_USERNAME": "emsync",
        "EMSYNC_NOTIFICATIONS__SMTP_PASSWORD": smtp_password,
    }
    console.print("Sandbox running. Start EMsync with:\n")
    print(" ".join(f"{k}={v}" for k, v in env.items()))
    subscription = http.subscribe()
    console.print(
        "\nA push subscription to add as a push contact point (its messages are decrypted "
        f"and listed):\n{subscription}\n\nCtrl-C to stop."
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        smtp.stop()
        http.stop()
