"""Idempotency keys on HTTP writes (issue #23): a request sent twice acts once.

A client that cannot know whether its request arrived (the crew's offline queue replaying after
a lost response, a retrying integration) sends an `Idempotency-Key` header on a POST, PUT, PATCH
or DELETE. The first request with a key runs and its response is kept, sealed (a handoff's
response is PHI); a repeat of the same request with the same key gets that response back
without running again (`Idempotent-Replayed: true`). The same key with a different request is a
422, and a repeat while the first is still running a 409 (draft-ietf-httpapi-idempotency-key).

Keys are per principal: two users' keys never meet. A 5xx answer is not kept, so a retry runs
again; any other answer (also a 409 from a lifecycle) is the request's outcome and is replayed.
Should a process die between the route's commit and keeping the response, the key stays
"pending"; after `http.idempotency_pending_seconds` a repeat runs again (the lifecycle tables
then refuse a second move, so nothing is applied twice). The middleware sits inside the request
gate, which has authenticated the caller and bounds the body it buffers here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Integer, LargeBinary, String, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emsync.core.crypto import Keyring
from emsync.core.db import Base
from emsync.core.http import problem

HEADER = b"idempotency-key"
REPLAYED = b"idempotent-replayed"
_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Visible ASCII, as the draft's sf-string allows; a UUID is the usual choice.
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Response headers a replay repeats (the rest are the server's per-response headers).
_KEPT_HEADERS = (b"content-type", b"location")
# Answers not kept: the server's trouble (retry runs again) and refusals a retry may outgrow.
_NOT_KEPT = {401, 429}


class IdempotentRequest(Base):
    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(120), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(2048))
    # None while the first request runs.
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime]


def fingerprint(method: str, path: str, query: bytes, content_type: str, body: bytes) -> str:
    """What makes two requests the same request. A multipart body's boundary is chosen afresh
    by each send (a browser's FormData), so it is taken out before hashing."""
    boundary = _boundary(content_type)
    if boundary:
        body = body.replace(boundary, b"")
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _boundary(content_type: str) -> bytes | None:
    if not content_type.lower().startswith("multipart/"):
        return None
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    return match.group(1).encode() if match else None


@dataclass
class _Captured:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        keyring: Callable[[], Keyring],
        clock: Callable[[], datetime],
        pending_seconds: float,
        retention: timedelta,
    ) -> None:
        self.app = app
        self._sessions = sessions
        self._keyring = keyring
        self._clock = clock
        self._pending = timedelta(seconds=pending_seconds)
        self._retention = retention

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER) if scope["type"] == "http" else None
        principal = scope.get("state", {}).get("principal")
        # Public routes (login) have no principal to scope a key to: they run as usual.
        if key is None or scope["method"] not in _METHODS or principal is None:
            await self.app(scope, receive, send)
            return
        if not _KEY.match(key):
            await _problem(scope, receive, send, 400, "Idempotency-Key must be 1-255 visible ASCII")
            return
        try:
            body = await _read_body(receive)
        except HTTPException as exc:  # the gate's size limit, met while reading
            await _problem(scope, receive, send, exc.status_code, str(exc.detail))
            return
        owner = str(principal.audit_name)
        print_ = fingerprint(
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            _header(scope, b"content-type") or "",
            body,
        )
        earlier = await self._claim(owner, key, print_, scope)
        if earlier is not None:
            await self._answer_repeat(earlier, print_, owner, key, scope, receive, send)
            return
        captured = _Captured()
        try:
            await self.app(scope, _replay_body(body, receive), _capturing(send, captured))
        finally:
            await self._settle(owner, key, captured)

    async def _claim(
        self, owner: str, key: str, print_: str, scope: Scope
    ) -> IdempotentRequest | None:
        """Insert the key as running; or the row an earlier request with it left."""
        now = self._clock()
        async with self._sessions()() as session:
            # Old keys of this principal go as new ones come: the table stays small.
            await session.execute(
                delete(IdempotentRequest).where(
                    IdempotentRequest.principal == owner,
                    IdempotentRequest.created_at < now - self._retention,
                )
            )
            session.add(
                IdempotentRequest(
                    principal=owner,
                    key=key,
                    fingerprint=print_,
                    method=scope["method"],
                    path=scope["path"][:2048],
                    created_at=now,
                )
            )
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
            row = await session.get(IdempotentRequest, (owner, key))
            if row is None:  # settled as a 5xx between our insert and read: run it now
                return await self._claim(owner, key, print_, scope)
            if row.status_code is None and now - row.created_at > self._pending:
                # The first request's process died before keeping its answer: run again.
                taken = await session.execute(
                    update(IdempotentRequest)
                    .where(
                        IdempotentRequest.principal == owner,
                        IdempotentRequest.key == key,
                        IdempotentRequest.created_at == row.created_at,
                    )
                    .values(created_at=now, fingerprint=print_)
                )
                await session.commit()
                if getattr(taken, "rowcount", 0) == 1 and row.fingerprint == print_:
                    return None
            return row

    async def _answer_repeat(
        self,
        row: IdempotentRequest,
        print_: str,
        owner: str,
        key: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if row.fingerprint != print_:
            detail = (
                "this Idempotency-Key was used with a different request "
                f"({row.method} {row.path}); use a new key for a new request"
            )
            await _problem(scope, receive, send, 422, detail)
            return
        if row.status_code is None or row.response_sealed is None:
            detail = "a request with this Idempotency-Key is still being processed; retry later"
            await _problem(scope, receive, send, 409, detail)
            return
        stored = json.loads(self._keyring().open(row.response_sealed, aad=_aad(owner, key)))
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored["headers"]]
        body = bytes.fromhex(stored["body"])
        headers += [(b"content-length", str(len(body)).encode()), (REPLAYED, b"true")]
        await send({"type": "http.response.start", "status": row.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _settle(self, owner: str, key: str, captured: _Captured) -> None:
        """Keep the answer for repeats, or forget the key when a retry must run again."""
        async with self._sessions()() as session:
            where = (IdempotentRequest.principal == owner, IdempotentRequest.key == key)
            if captured.status == 0 or captured.status >= 500 or captured.status in _NOT_KEPT:
                await session.execute(delete(IdempotentRequest).where(*where))
            else:
                kept = {
                    "headers": [
                        (k.decode("latin-1"), v.decode("latin-1"))
                        for k, v in captured.headers
                        if k.lower() in _KEPT_HEADERS
                    ],
                    "body": bytes(captured.body).hex(),
                }
                sealed = self._keyring().seal(json.dumps(kept).encode(), aad=_aad(owner, key))
                await session.execute(
                    update(IdempotentRequest)
                    .where(*where)
                    .values(status_code=captured.status, response_sealed=sealed)
                )
            await session.commit()


def _aad(owner: str, key: str) -> bytes:
    return f"idempotency:{owner}:{key}".encode()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay_body(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, as the server reports it

    return wrapped


def _capturing(send: Send, captured: _Captured) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = int(message["status"])
            captured.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            captured.body.extend(message.get("body", b""))
        await send(message)

    return wrapped


async def _problem(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    titles: dict[int, tuple[str, str]] = {
        400: ("Bad request", "bad-request"),
        409: ("Conflict", "idempotency-key-in-use"),
        413: ("Payload too large", "payload-too-large"),
        422: ("Validation failed", "idempotency-key-reused"),
    }
    title, slug = titles.get(status, ("Error", "error"))
    response = problem(status, title, detail, slug, scope.get("path"))
    await response(scope, receive, send)
