"""WebSocket push (DESIGN §3.2): clients subscribe to channels, authorised per channel.

The hub never blocks a publisher: each connection has a bounded queue, and a client too slow to
drain it is disconnected (it reconnects and refetches what it missed, using `seq` to notice gaps).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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

QUEUE_LIMIT = 2000
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


@dataclass(eq=False)
class Subscriber:
    principal: Any
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )
    channels: set[str] = field(default_factory=set)
    overflowed: bool = False


class Hub:
    def __init__(self, authenticate: Authenticate) -> None:
        self._authenticate = authenticate
        self._checks: dict[str, ChannelCheck] = {}
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._seq: dict[str, int] = defaultdict(int)
        self._forward: Forward | None = None

    def register_channel(self, prefix: str, check: ChannelCheck) -> None:
        """`prefix` is the part before ':' (e.g. "vitals" for "vitals:<patient_id>")."""
        self._checks[prefix] = check

    async def authenticate(self, token: str) -> Any:
        return await self._authenticate(token)

    async def subscribe(self, sub: Subscriber, channel: str) -> str | None:
        """None when subscribed, else why not."""
        prefix, _, arg = channel.partition(":")
        check = self._checks.get(prefix)
        if check is None:
            return f"unknown channel {prefix!r}"
        if not await check(sub.principal, arg or None):
            return f"not allowed to subscribe to {channel!r}"
        sub.channels.add(channel)
        self._subscribers[channel].add(sub)
        return None

    def unsubscribe(self, sub: Subscriber, channel: str) -> None:
        sub.channels.discard(channel)
        self._subscribers[channel].discard(sub)

    def unsubscribe_all(self, sub: Subscriber) -> None:
        for channel in sub.channels:
            self._subscribers[channel].discard(sub)
        sub.channels.clear()

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
        sender = asyncio.create_task(_pump(ws, sub))
        try:
            await ws.send_json({"type": "ready"})
            while True:
                msg = await ws.receive_text()
                await _handle(ws, hub, sub, msg)
        except WebSocketDisconnect:
            pass
        finally:
            hub.unsubscribe_all(sub)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    return router


async def _handle(ws: WebSocket, hub: Hub, sub: Subscriber, raw: str) -> None:
    try:
        msg = json.loads(raw)
        op = msg["op"]
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


async def _pump(ws: WebSocket, sub: Subscriber) -> None:
    while True:
        message = await sub.queue.get()
        if sub.overflowed:
            await ws.close(code=4408, reason="too slow; reconnect and refetch")
            return
        await ws.send_text(message.text() if type(message) is Published else render(message))
