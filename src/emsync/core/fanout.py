"""Cross-process WebSocket fan-out over Redis pub/sub (the scale profile, DESIGN §1).

Every message published on this process's hub is also published, sealed, on one Redis channel;
a subscriber delivers the messages of the other processes to the local WebSocket subscribers.
A process delivers its own messages locally at once and skips their echo: exactly once each.

Sequence numbers stay per receiving process and channel (what a client's connection sees), so
the WebSocket contract does not change. Each Redis message also carries its origin and the
origin's own per-channel seq; a receiver that sees that seq skip (messages the origin dropped or
that Redis lost while a connection was down) skips its local seq by as many, and the client's
gap detection refetches the channel. A global per-channel `INCR` would order messages across
origins but costs a Redis command per message and makes local push wait for Redis
(`bench/fanout.py` measures it).

The payload is sealed with the deployment's master keyring (AES-256-GCM, the Redis channel as
associated data): vitals are PHI, and anyone who can reach Redis can neither read the stream nor
push forged alerts to clinicians' screens. Redis being away never blocks a publisher nor breaks
local push: what cannot be sent is counted and logged, and the connection is retried with
backoff. The Redis channel is `emsync:hub` unless the URL names another (`?channel=...`), so
several deployments (or test runs) can share one Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis import asyncio as aioredis

from emsync.core.crypto import Keyring
from emsync.core.realtime import Hub

log = structlog.get_logger("emsync.fanout")

DEFAULT_CHANNEL = "emsync:hub"
WIRE_VERSION = 1


class FanoutMessageRejected(ValueError):
    """A Redis message that does not open under our keyring or is not a hub message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HubMessage:
    """One hub message on its way between processes; `seq` is the origin's per-channel seq."""

    origin: str
    channel: str
    type: str
    data: Any
    seq: int


def seal_message(message: HubMessage, *, keyring: Keyring, redis_channel: str) -> bytes:
    """`origin` NL sealed body: the origin stays readable (and bound in as associated data), so
    a process drops the echo of its own messages without opening them."""
    body = {
        "v": WIRE_VERSION,
        "c": message.channel,
        "t": message.type,
        "d": message.data,
        "s": message.seq,
    }
    # default=str: the same rendering the WebSocket pump gives values JSON does not know.
    plaintext = json.dumps(body, default=str, separators=(",", ":")).encode()
    origin = message.origin.encode()
    return origin + b"\n" + keyring.seal(plaintext, aad=_aad(redis_channel, origin))


def _aad(redis_channel: str, origin: bytes) -> bytes:
    return redis_channel.encode() + b"\n" + origin


def origin_of(wire: bytes) -> str:
    return wire.partition(b"\n")[0].decode(errors="replace")


def open_message(wire: bytes, *, keyring: Keyring, redis_channel: str) -> HubMessage:
    origin, _, sealed = wire.partition(b"\n")
    try:
        body = json.loads(keyring.open(sealed, aad=_aad(redis_channel, origin)))
        fields = (body["v"], origin.decode(), body["c"], body["t"], body["s"])
    except Exception as exc:  # noqa: BLE001 - every way of failing here is a rejected message
        raise FanoutMessageRejected(type(exc).__name__) from None
    version, origin_id, channel, type_, seq = fields
    if (
        version != WIRE_VERSION
        or not all(isinstance(v, str) for v in (channel, type_))
        or not isinstance(seq, int)
        or isinstance(seq, bool)
        or seq < 1
    ):
        raise FanoutMessageRejected("malformed")
    return HubMessage(origin=origin_id, channel=channel, type=type_, data=body.get("d"), seq=seq)


class OriginSequences:
    """The last seq seen per (origin, channel): how many messages were missed, or None for a
    duplicate or replay. Bounded: the least recently heard pairs are forgotten first."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._last: OrderedDict[tuple[str, str], int] = OrderedDict()

    def missed(self, origin: str, channel: str, seq: int) -> int | None:
        key = (origin, channel)
        last = self._last.get(key)
        if last is not None and seq <= last:
            return None
        self._last[key] = seq
        self._last.move_to_end(key)
        if len(self._last) > self._capacity:
            self._last.popitem(last=False)
        # The first message heard from a pair starts its count: earlier ones predate us.
        return 0 if last is None else seq - last - 1


def split_channel(url: str) -> tuple[str, str]:
    """(the Redis URL without our `channel` query parameter, the Redis channel)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    channel = next((v for k, v in query if k == "channel" and v), DEFAULT_CHANNEL)
    rest = urlencode([(k, v) for k, v in query if k != "channel"])
    return urlunsplit(parts._replace(query=rest)), channel


class FanoutMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "emsync_fanout_sent_total",
            "Hub messages published to Redis for the other processes.",
            registry=registry,
        )
        self.received = Counter(
            "emsync_fanout_received_total",
            "Hub messages of other processes delivered to local WebSocket subscribers.",
            registry=registry,
        )
        self.not_sent = Counter(
            "emsync_fanout_not_sent_total",
            "Hub messages pushed locally but not to the other processes, by reason "
            "(redis_unavailable, overflow, send_failed).",
            ["reason"],
            registry=registry,
        )
        self.missed = Counter(
            "emsync_fanout_missed_total",
            "Messages of other processes known lost on the way (their seq skipped).",
            registry=registry,
        )
        self.rejected = Counter(
            "emsync_fanout_rejected_total",
            "Redis messages that did not open under the keyring or were malformed.",
            registry=registry,
        )
        self.connects = Counter(
            "emsync_fanout_connects_total",
            "Successful (re)connections to Redis.",
            registry=registry,
        )
        self.connected = Gauge(
            "emsync_fanout_connected",
            "1 while the Redis publisher and subscriber are both up.",
            registry=registry,
        )


class RedisFanout:
    """BackgroundService of every role when `EMSYNC_REDIS_URL` is set."""

    name = "core.fanout"

    def __init__(
        self,
        *,
        hub: Hub,
        url: str,
        keyring: Keyring,
        registry: CollectorRegistry,
        queue_size: int = 10_000,
        batch_max: int = 256,
        reconnect_min_seconds: float = 0.1,
        reconnect_max_seconds: float = 5.0,
        health_check_seconds: float = 5.0,
    ) -> None:
        self._hub = hub
        self._url, self.redis_channel = split_channel(url)
        self._keyring = keyring
        self.metrics = FanoutMetrics(registry)
        # Unique per process *and* per app: two apps in one test process are two origins.
        self.origin = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)
        self._batch_max = batch_max
        self._reconnect_min = reconnect_min_seconds
        self._reconnect_max = reconnect_max_seconds
        self._health_check = health_check_seconds
        self._sequences = OriginSequences()
        self._connected = False
        self._overflowing = False
        self._outage_logged = False
        self._rejected = 0
        self._task: asyncio.Task[None] | None = None
        hub.forward_to(self.forward)

    @property
    def connected(self) -> bool:
        return self._connected

    def forward(self, message: dict[str, Any]) -> None:
        """Hub hook: queue a locally published message for Redis; never blocks."""
        if not self._connected:
            self.metrics.not_sent.labels("redis_unavailable").inc()
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.metrics.not_sent.labels("overflow").inc()
            if not self._overflowing:
                self._overflowing = True
                log.warning("fan-out queue full; messages reach only local subscribers")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        if self._connected:
            # Give what is queued a moment to leave; a stop never waits on Redis for long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout=2)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        delay = self._reconnect_min
        while True:
            client = aioredis.from_url(
                self._url,
                socket_connect_timeout=2,
                socket_timeout=10,
                health_check_interval=self._health_check,
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.redis_channel)
                await client.ping()
                self._set_connected(True)
                delay = self._reconnect_min
                await self._pump(client, pubsub)
            except Exception as exc:  # noqa: BLE001 - whatever ended it, reconnect
                self._note_failure(exc)
            finally:
                self._set_connected(False)
                self._drop_queued()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            # Full jitter, so that N processes do not reconnect in lock step.
            await asyncio.sleep(random.uniform(0, delay))
            delay = min(delay * 2, self._reconnect_max)

    def _note_failure(self, exc: Exception) -> None:
        """One log line per outage, not one per reconnect attempt."""
        if self._connected:
            log.warning("fan-out lost Redis; local push only until it is back", error=repr(exc))
        elif not self._outage_logged:
            log.warning("fan-out cannot reach Redis; local push only until it can", error=repr(exc))
        self._outage_logged = True

    def _set_connected(self, connected: bool) -> None:
        if connected and not self._connected:
            self._outage_logged = False
            self.metrics.connects.inc()
            log.info("fan-out connected to Redis", channel=self.redis_channel)
        self._connected = connected
        self.metrics.connected.set(1 if connected else 0)

    def _drop_queued(self) -> None:
        dropped = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            dropped += 1
        if dropped:
            self.metrics.not_sent.labels("send_failed").inc(dropped)

    async def _pump(self, client: aioredis.Redis, pubsub: aioredis.client.PubSub) -> None:
        sender = asyncio.create_task(self._send(client))
        receiver = asyncio.create_task(self._receive(pubsub))
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise the connection error that ended it
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)

    async def _send(self, client: aioredis.Redis) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            pipe = client.pipeline(transaction=False)
            for message in batch:
                pipe.publish(self.redis_channel, self._seal(message))
            try:
                await pipe.execute()
            except BaseException:
                self.metrics.not_sent.labels("send_failed").inc(len(batch))
                raise
            finally:
                for _ in batch:
                    self._queue.task_done()
            self.metrics.sent.inc(len(batch))
            if self._overflowing and self._queue.empty():
                self._overflowing = False
                log.info("fan-out queue drained")

    def _seal(self, message: dict[str, Any]) -> bytes:
        return seal_message(
            HubMessage(
                origin=self.origin,
                channel=message["channel"],
                type=message["type"],
                data=message["data"],
                seq=message["seq"],
            ),
            keyring=self._keyring,
            redis_channel=self.redis_channel,
        )

    async def _receive(self, pubsub: aioredis.client.PubSub) -> None:
        while True:
            raw = await pubsub.get_message(timeout=1.0)
            if raw is not None and raw.get("type") == "message":
                self.receive(raw["data"])

    def receive(self, sealed: bytes) -> None:
        """Deliver one Redis message to local subscribers, unless it is ours or a replay."""
        if origin_of(sealed) == self.origin:
            return
        try:
            message = open_message(sealed, keyring=self._keyring, redis_channel=self.redis_channel)
        except FanoutMessageRejected as exc:
            self.metrics.rejected.inc()
            self._rejected += 1
            if self._rejected & (self._rejected - 1) == 0:  # 1, 2, 4, 8...: no log flood
                log.warning(
                    "fan-out rejected a Redis message", reason=str(exc), count=self._rejected
                )
            return
        missed = self._sequences.missed(message.origin, message.channel, message.seq)
        if missed is None:
            return
        if missed:
            self.metrics.missed.inc(missed)
        self._hub.deliver(message.channel, message.type, message.data, missed=missed)
        self.metrics.received.inc()
