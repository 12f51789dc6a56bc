"""Local stand-ins for the providers, speaking their real protocols on loopback, for tests and
for the demo (`emsync notify sandbox`): a Twilio-compatible SMS API that sends signed status
callbacks and can send signed replies, a Web Push service that checks the VAPID signature and
decrypts each message with the subscription's keys (as the browser would), a Standard Webhooks
receiver that verifies signatures, and an SMTP server that requires STARTTLS and AUTH.

Nothing here is used by the product; it is what the product is tested against.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import ipaddress
import itertools
import json
import os
import secrets
import ssl
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_ece
import httpx
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from py_vapid import Vapid02
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emsync.notifications.signing import twilio_signature


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SmsMessage:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str | None
    idempotency_key: str | None


@dataclass
class PushSubscriber:
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    received: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SandboxState:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    sms: list[SmsMessage] = field(default_factory=list)
    sms_requests: int = 0
    sms_by_key: dict[str, SmsMessage] = field(default_factory=dict)
    push: dict[str, PushSubscriber] = field(default_factory=dict)
    push_rejected: int = 0
    hooks: dict[str, str] = field(default_factory=dict)  # name -> secret
    hook_deliveries: list[dict[str, Any]] = field(default_factory=list)
    hook_requests: int = 0
    hook_rejected: int = 0
    hook_fail_next: int = 0  # answer 500 this many times
    hook_hang_seconds: float = 0.0
    sms_fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_sid(self) -> str:
        return f"SM{next(self._sids):032x}"


class HttpSandbox:
    """SMS, push and webhooks on one loopback HTTP port, served from a thread."""

    def __init__(self, port: int, *, callbacks: bool = True) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.state = SandboxState()
        self.callbacks = callbacks
        app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self._sms, methods=["POST"]),
                Route("/push/{sub_id}", self._push, methods=["POST"]),
                Route("/hooks/{name}", self._hook, methods=["POST"]),
                Route("/sandbox/messages", self._list, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> HttpSandbox:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    # ------------------------------------------------------------ SMS (Twilio subset)

    async def _sms(self, request: Request) -> Response:
        st = self.state
        auth = request.headers.get("authorization", "")
        expected = (
            "Basic " + base64.b64encode(f"{st.account_sid}:{st.auth_token}".encode()).decode()
        )
        if (
            not secrets.compare_digest(auth, expected)
            or request.path_params["sid"] != st.account_sid
        ):
            return JSONResponse({"code": 20003, "message": "Authenticate"}, status_code=401)
        form = {k: str(v) for k, v in (await request.form()).multi_items()}
        key = request.headers.get("idempotency-key")
        with st.lock:
            st.sms_requests += 1
            if st.sms_fail_next > 0:
                st.sms_fail_next -= 1
                return JSONResponse({"code": 20500, "message": "Internal"}, status_code=500)
            if key and key in st.sms_by_key:  # the same request again: the same message
                message = st.sms_by_key[key]
                return JSONResponse(_sms_json(message, "queued"), status_code=201)
            to = form.get("To", "")
            if not to.startswith("+") or not to[1:].isdigit():
                return JSONResponse({"code": 21211, "message": "Invalid 'To'"}, status_code=400)
            message = SmsMessage(
                sid=st.next_sid(),
                to=to,
                sender=form.get("From", ""),
                body=form.get("Body", ""),
                status_callback=form.get("StatusCallback"),
                idempotency_key=key,
            )
            st.sms.append(message)
            if key:
                st.sms_by_key[key] = message
        if self.callbacks and message.status_callback:
            asyncio.get_running_loop().create_task(self._report(message))
        return JSONResponse(_sms_json(message, "queued"), status_code=201)

    async def _report(self, message: SmsMessage) -> None:
        assert message.status_callback is not None
        async with httpx.AsyncClient(timeout=5) as client:
            for status in ("sent", "delivered"):
                form = {
                    "MessageSid": message.sid,
                    "MessageStatus": status,
                    "To": message.to,
                    "From": message.sender,
                    "AccountSid": self.state.account_sid,
                }
                signature = twilio_signature(
                    self.state.auth_token, message.status_callback, form.items()
                )
                try:
                    await client.post(
                        message.status_callback,
                        data=form,
                        headers={"X-Twilio-Signature": signature},
                    )
                except httpx.HTTPError:
                    return

    def reply(self, url: str, *, sender: str, body: str, forge: bool = False) -> httpx.Response:
        """Send an inbound SMS to EMsync's reply webhook at `url`, signed as the provider would."""
        form = {
            "MessageSid": self.state.next_sid(),
            "From": sender,
            "To": "+15005550006",
            "Body": body,
            "AccountSid": self.state.account_sid,
        }
        token = "not-the-token" if forge else self.state.auth_token
        return httpx.post(
            url,
            data=form,
            headers={"X-Twilio-Signature": twilio_signature(token, url, form.items())},
        )

    # ------------------------------------------------------------ Web Push (RFC 8030/8291/8292)

    def subscribe(self) -> dict[str, Any]:
        """A new subscription, as a browser's `pushManager.subscribe(...).toJSON()` gives it."""
        sub_id = secrets.token_hex(8)
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self.state.push[sub_id] = PushSubscriber(private_key=key, auth=auth)
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": f"{self.base}/push/{sub_id}",
            "keys": {"p256dh": _b64url(public), "auth": _b64url(auth)},
        }

    async def _push(self, request: Request) -> Response:
        subscriber = self.state.push.get(request.path_params["sub_id"])
        if subscriber is None:
            return Response(status_code=410)
        authorization = request.headers.get("authorization", "")
        if not _vapid_valid(authorization, self.base):
            self.state.push_rejected += 1
            return Response("bad VAPID", status_code=403)
        if request.headers.get("content-encoding") != "aes128gcm":
            return Response("need aes128gcm", status_code=415)
        body = await request.body()
        plaintext = http_ece.decrypt(
            body,
            private_key=subscriber.private_key,
            auth_secret=subscriber.auth,
            version="aes128gcm",
        )
        with self.state.lock:
            subscriber.received.append(
                {
                    **json.loads(plaintext),
                    "_topic": request.headers.get("topic"),
                    "_ttl": request.headers.get("ttl"),
                }
            )
        return Response(
            status_code=201, headers={"Location": f"{self.base}/msg/{secrets.token_hex(6)}"}
        )

    # ------------------------------------------------------------ webhooks (Standard Webhooks)

    def hook(self, name: str, secret: str) -> str:
        self.state.hooks[name] = secret
        return f"{self.base}/hooks/{name}"

    async def _hook(self, request: Request) -> Response:
        st = self.state
        body = await request.body()
        with st.lock:
            st.hook_requests += 1
            fail = st.hook_fail_next > 0
            if fail:
                st.hook_fail_next -= 1
        if st.hook_hang_seconds:
            await asyncio.sleep(st.hook_hang_seconds)
        if fail:
            return Response(status_code=500)
        secret = st.hooks.get(request.path_params["name"])
        if secret is None:
            return Response(status_code=404)
        try:
            payload = Webhook(secret).verify(body, dict(request.headers))  # 5-minute replay window
        except WebhookVerificationError:
            st.hook_rejected += 1
            return Response(status_code=401)
        with st.lock:
            msg_id = request.headers["webhook-id"]
            if all(d["id"] != msg_id for d in st.hook_deliveries):  # dedupe by webhook-id
                st.hook_deliveries.append({"id": msg_id, "payload": payload})
        return Response(status_code=204)

    async def _list(self, _request: Request) -> Response:
        st = self.state
        return JSONResponse(
            {
                "sms": [{"sid": m.sid, "to": m.to, "body": m.body} for m in st.sms],
                "push": {k: v.received for k, v in st.push.items()},
                "webhooks": st.hook_deliveries,
            }
        )


def _sms_json(message: SmsMessage, status: str) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "status": status,
        "to": message.to,
        "from": message.sender,
        "body": message.body,
    }


def _vapid_valid(authorization: str, audience: str) -> bool:
    """RFC 8292: `vapid t=<JWT>, k=<public key>`; the JWT is ES256 over the key, for this origin."""
    try:
        scheme, _, rest = authorization.partition(" ")
        parts = dict(p.strip().split("=", 1) for p in rest.split(","))
        token, key = parts["t"], parts["k"]
        if scheme.lower() != "vapid" or not Vapid02.verify(authorization):
            return False
        claims = json.loads(_unb64url(token.split(".")[1]))
        return bool(claims.get("aud") == audience and claims.get("exp", 0) > time.time() and key)
    except Exception:  # noqa: BLE001 - py_vapid asserts and raises on malformed or forged input
        return False


# ------------------------------------------------------------ SMTP (STARTTLS + AUTH)


@dataclass
class MailBox:
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key; the certificate doubles as the client's CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emsync-sandbox")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SmtpSandbox:
    """An SMTP server on loopback that requires STARTTLS before AUTH and before mail."""

    def __init__(self, port: int, directory: Path, *, username: str, password: str) -> None:
        self.port = port
        self.cert, key = self_signed(directory)
        self.box = MailBox()
        # When each message was accepted (time.perf_counter() at DATA), by Message-ID and by To.
        self.arrivals: dict[str, float] = {}
        arrivals = self.arrivals
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        box = self.box

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                at = time.perf_counter()
                arrivals.setdefault(str(message["Message-ID"]), at)
                arrivals.setdefault(str(message["To"]), at)
                box.messages.append(message)
                return "250 OK queued"

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                username.encode(),
                password.encode(),
            )
            return AuthResult(success=ok)

        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=True,
        )

    def start(self) -> SmtpSandbox:
        # aiosmtpd warns about its own internal use of Session.login_data when AUTH runs.
        warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
