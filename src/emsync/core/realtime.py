"""WebSocket push (DESIGN §3.2): clients subscribe to channels, authorised per channel.

The hub never blocks a publisher: each connection has a bounded queue, and a client too slow to
drain it is disconnected (it reconnects and refetches what it missed, using `seq` to notice gaps).

Authorisation stays fresh (issue #14): before each delivery the connection's principal is
checked again (`recheck`, answered from a cache that account changes invalidate); a session ends
when its token expires unless the client renewed it with `{"op": "auth", "token": ...}`, and
`end_sessions` closes every connection of a changed account at once (4403). Channels a
connection left are freed, and one connection holds at most `MAX_CHANNELS` subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

log = structlog.get_logger("emsync.realtime")

# (principal, channel argument or None) -> allowed?
ChannelCheck = Callable[[Any, str | None], Awaitable[bool]]
Authenticate = Callable[[str], Awaitable[Any]]
# Receives each published message (channel, type, data, seq); must not block.
Forward = Callable[[dict[str, Any]], None]
# Why the principal may no longer receive anything (None: it still may).
Recheck = Callable[[Any], Awaitable[str | None]]
# Told of each message on a control channel (type, data), local or from another process.
Control = Callable[[str, Any], None]

QUEUE_LIMIT = 2000
SEND_BURST = 100  # messages a connection's sender writes per wake-up (see next_messages)
MAX_CHANNELS = 500  # subscriptions per connection
CLOSE_EXPIRED = 4401  # the token expired: renew it (or reconnect with a fresh one)
CLOSE_REVOKED = 4403  # the account changed: log in again
TOKEN_PROTOCOL_PREFIX = "bearer."  # noqa: S105 - a protocol prefix, not a secret


_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
)


def render(message: dict[str, Any]) -> str:
    """The JSON text of a message, as `json.dumps(message, default=str)` renders it to a reader.

    orjson (several times faster) with the same fallback for what JSON does not know: datetimes
    and dataclasses go to `str` as they do with `json.dumps`. What orjson cannot render (an
    integer beyond 64 bits) goes to `json.dumps` itself.
    """
    try:
        return orjson.dumps(message, default=str, option=_ORJSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(message, default=str)


class Published(dict[str, Any]):
    """A published message: rendered once, on first send, for all of its subscribers."""

    __slots__ = ("_text",)

    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text: str = render(self)
            return self._text


# The wall clock token expiry is measured on (a name of its own, so tests can move it).
_wall_clock = time.time

# Put in a connection's queue to wake its sender (to close it, or re-read its expiry).
_WAKE: dict[str, Any] = {"type": "_wake"}


@dataclass(eq=False)
class Subscriber:
    principal: Any
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )
    channels: set[str] = field(default_factory=set)
    overflowed: bool = False
    # Why the session must end now (account changed), set by Hub.end_sessions.
    ended: str | None = None

    def seconds_left(self) -> float | None:
        """Until the principal's credential expires; None when it does not (API keys)."""
        expires_at: datetime | None = getattr(self.principal, "expires_at", None)
        if expires_at is None:
            return None
        return expires_at.timestamp() - _wall_clock()


async def _always_current(_principal: Any) -> str | None:
    return None


class Hub:
    def __init__(self, authenticate: Authenticate, recheck: Recheck = _always_current) -> None:
        self._authenticate = authenticate
        self._recheck = recheck
        self._checks: dict[str, ChannelCheck] = {}
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._seq: dict[str, int] = defaultdict(int)
        self._forward: Forward | None = None
        self._control: dict[str, Control] = {}
        self._connections: set[Subscriber] = set()

    def register_channel(self, prefix: str, check: ChannelCheck) -> None:
        """`prefix` is the part before ':' (e.g. "vitals" for "vitals:<patient_id>")."""
        self._checks[prefix] = check

    def register_control(self, channel: str, handler: Control) -> None:
        """A channel between processes only: no client may subscribe; `handler` gets each
        message published on it, here or (through the fan-out) in another process."""
        self._control[channel] = handler

    async def authenticate(self, token: str) -> Any:
        return await self._authenticate(token)

    async def recheck(self, sub: Subscriber) -> tuple[int, str] | None:
        """(close code, why) when `sub` may no longer receive messages, else None."""
        if sub.ended is not None:
            return CLOSE_REVOKED, sub.ended
        left = sub.seconds_left()
        if left is not None and left <= 0:
            return CLOSE_EXPIRED, "the token expired; renew it"
        reason = await self._recheck(sub.principal)
        return None if reason is None else (CLOSE_REVOKED, reason)

    def attach(self, sub: Subscriber) -> None:
        self._connections.add(sub)

    def detach(self, sub: Subscriber) -> None:
        self.unsubscribe_all(sub)
        self._connections.discard(sub)

    def end_sessions(self, principal_id: str, reason: str) -> int:
        """Close every connection of this principal now; returns how many."""
        ended = 0
        for sub in list(self._connections):
            if getattr(sub.principal, "id", None) == principal_id:
                sub.ended = reason
                self.unsubscribe_all(sub)
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(_WAKE)
                ended += 1
        return ended

    def connection_count(self) -> int:
        return len(self._connections)

    async def subscribe(self, sub: Subscriber, channel: str) -> str | None:
        """None when subscribed, else why not."""
        prefix, _, arg = channel.partition(":")
        check = self._checks.get(prefix)
        if check is None or channel in self._control:
            return f"unknown channel {prefix!r}"
        if channel not in sub.channels and len(sub.channels) >= MAX_CHANNELS:
            return f"at most {MAX_CHANNELS} channels per connection"
        if sub.ended is not None or not await check(sub.principal, arg or None):
            return f"not allowed to subscribe to {channel!r}"
        sub.channels.add(channel)
        self._subscribers.setdefault(channel, set()).add(sub)
        return None

    def unsubscribe(self, sub: Subscriber, channel: str) -> None:
        sub.channels.discard(channel)
        self._leave(sub, channel)

    def unsubscribe_all(self, sub: Subscriber) -> None:
        for channel in sub.channels:
            self._leave(sub, channel)
        sub.channels.clear()

    def _leave(self, sub: Subscriber, channel: str) -> None:
        # An emptied channel is forgotten: subscriptions must not outlive their connections.
        subs = self._subscribers.get(channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[channel]

    def channel_count(self) -> int:
        return len(self._subscribers)

    def forward_to(self, forward: Forward) -> None:
        """Also hand every message published here to `forward`, which must not block (the
        cross-process fan-out of the scale profile, `core/fanout.py`)."""
        self._forward = forward

    def publish(self, channel: str, type_: str, data: Any) -> int:
        """Queue a message for every subscriber of `channel`; returns its sequence number."""
        message = self._deliver(channel, type_, data, missed=0)
        if self._forward is not None:
            self._forward(message)
        return int(message["seq"])

    def deliver(self, channel: str, type_: str, data: Any, *, missed: int = 0) -> int:
        """Queue a message another process published, for local subscribers only.

        `missed` messages of that channel known lost on the way skip the sequence number, so
        clients see the gap and refetch (seq numbers what this process delivered, per channel).
        """
        return int(self._deliver(channel, type_, data, missed=missed)["seq"])

    def _deliver(self, channel: str, type_: str, data: Any, *, missed: int) -> dict[str, Any]:
        control = self._control.get(channel)
        if control is not None:
            control(type_, data)
            return Published(channel=channel, type=type_, data=data, seq=0)
        self._seq[channel] += 1 + missed
        seq = self._seq[channel]
        message = Published(channel=channel, type=type_, data=data, seq=seq)
        for sub in list(self._subscribers.get(channel, ())):
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                sub.overflowed = True
                self.unsubscribe_all(sub)
                log.warning(
                    "realtime subscriber overflowed; disconnecting",
                    channel=channel.partition(":")[0],  # the kind only: ids are not logged
                )
        return message

    def listened(self, channel: str, *, under: bool = False) -> bool:
        """Whether a message on `channel` (`under`: on it or any `channel:<arg>`) can reach
        anyone: a subscriber here or, through the fan-out, in another process. A publisher
        that must read the database to build its message skips it when nobody would get it."""
        if self._forward is not None or channel in self._subscribers:
            return True
        prefix = f"{channel}:"
        return under and any(name.startswith(prefix) for name in self._subscribers)

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))


def _token_from_protocols(ws: WebSocket) -> tuple[str | None, str | None]:
    protocols = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p]
    token = next(
        (p[len(TOKEN_PROTOCOL_PREFIX) :] for p in protocols if p.startswith(TOKEN_PROTOCOL_PREFIX)),
        None,
    )
    # Echo a protocol the client offered that is not the token, as browsers require.
    accept = next((p for p in protocols if not p.startswith(TOKEN_PROTOCOL_PREFIX)), None)
    return token, accept


def realtime_router(get_hub: Callable[[WebSocket], Hub]) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        """Authenticates with `Sec-WebSocket-Protocol: emsync.v1, bearer.<token>` or a first
        message `{"op": "auth", "token": ...}`; then `{"op": "subscribe", "channels": [...]}`."""
        hub = get_hub(ws)
        token, accept = _token_from_protocols(ws)
        await ws.accept(subprotocol=accept)
        try:
            if token is None:
                first = await asyncio.wait_for(ws.receive_json(), timeout=10)
                token = first.get("token") if isinstance(first, dict) else None
            principal = await hub.authenticate(token or "")
        except Exception:  # noqa: BLE001 - any failure here is an authentication failure
            await ws.send_json({"type": "error", "error": "authentication failed"})
            await ws.close(code=4401)
            return
        sub = Subscriber(principal=principal)
        hub.attach(sub)
        sender = asyncio.create_task(_pump(ws, hub, sub))
        try:
            await ws.send_json({"type": "ready"})
            while True:
                msg = await ws.receive_text()
                await _handle(ws, hub, sub, msg)
        except WebSocketDisconnect:
            pass
        finally:
            hub.detach(sub)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    return router


async def _renew(hub: Hub, sub: Subscriber, token: Any) -> dict[str, Any]:
    """`{"op": "auth", "token": ...}`: a fresh token of the same principal extends the session."""
    try:
        principal = await hub.authenticate(token if isinstance(token, str) else "")
    except Exception:  # noqa: BLE001 - any failure here is an authentication failure
        return {"type": "error", "error": "authentication failed"}
    if getattr(principal, "id", None) != getattr(sub.principal, "id", None):
        return {"type": "error", "error": "a session cannot change its principal"}
    sub.principal = principal
    expires_at = getattr(principal, "expires_at", None)
    return {"type": "authenticated", "expires_at": expires_at}


async def _handle(ws: WebSocket, hub: Hub, sub: Subscriber, raw: str) -> None:
    try:
        msg = json.loads(raw)
        op = msg["op"]
        if op == "auth":
            await sub.queue.put(await _renew(hub, sub, msg.get("token")))
            return
        channels = msg.get("channels", [])
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        await sub.queue.put({"type": "error", "error": "messages are {op, channels: [str]}"})
        return
    if op == "subscribe":
        result = {}
        for channel in channels[:100]:
            result[channel] = await hub.subscribe(sub, channel) or "ok"
        await sub.queue.put({"type": "subscribed", "channels": result})
    elif op == "unsubscribe":
        for channel in channels:
            hub.unsubscribe(sub, channel)
        await sub.queue.put({"type": "unsubscribed", "channels": channels})
    elif op == "ping":
        await sub.queue.put({"type": "pong"})
    else:
        await sub.queue.put({"type": "error", "error": f"unknown op {op!r}"})


async def next_messages(sub: Subscriber) -> list[dict[str, Any]]:
    """Every message queued for `sub` (at most SEND_BURST), waiting for the first if none is;
    `[_WAKE]` when its token expires first.

    One wake-up of the sender per burst, not per message: taking them one at a time cost a few
    event-loop turns each (`wait_for` ran `get()` as a task of its own), so with the loop shared
    by busy dashboards a push of 20 patients' vitals needed some 60 turns, fell behind the
    ingest and queued for seconds (bench/ingest.py --api-load: publish -> send 1.6-3.7 s while
    stored -> published was 0.15 s). Writing a frame does not yield unless the socket's buffer
    is full, so the burst is written in one turn.
    """
    queue = sub.queue
    if queue.empty():
        try:
            # Wake at the token's expiry even when nothing is published.
            async with asyncio.timeout(sub.seconds_left()):
                first = await queue.get()
        except TimeoutError:
            return [_WAKE]
    else:
        first = queue.get_nowait()
    burst = [first]
    while len(burst) < SEND_BURST and not queue.empty():
        burst.append(queue.get_nowait())
    return burst


async def _pump(ws: WebSocket, hub: Hub, sub: Subscriber) -> None:
    while True:
        burst = await next_messages(sub)
        if sub.overflowed:
            await ws.close(code=4408, reason="too slow; reconnect and refetch")
            return
        # Every delivery is checked against the principal's current standing: once per burst,
        # right before it is written (the answer is the same for each message of it).
        try:
            verdict = await hub.recheck(sub)
        except Exception:  # cannot tell: close; the client reconnects and retries
            log.warning("realtime authorisation check failed; closing", exc_info=True)
            verdict = (1011, "authorisation could not be checked; reconnect")
        if verdict is not None:
            code, reason = verdict
            hub.unsubscribe_all(sub)
            with contextlib.suppress(Exception):
                await ws.send_json({"type": "error", "error": reason})
            await ws.close(code=code, reason=reason[:120])
            return
        for message in burst:
            if message is not _WAKE:
                await ws.send_text(
                    message.text() if type(message) is Published else render(message)
                )
