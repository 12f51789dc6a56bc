"""The scale profile's event transport: RabbitMQ through aio-pika.

Every process publishes its commits' outbox rows to a durable topic exchange (routing key: the
event's name) with publisher confirms and persistent messages; the rows are marked relayed only
after the broker confirmed them. The worker role consumes one durable queue, bound to every event
that has a durable reaction, one message at a time (the reactions of one event run in table
order, events in the order they were relayed) and acknowledges after the reactions ran: a crash
before the acknowledgement redelivers the message, and the delivery records skip what had run.
Bodies are the sealed payloads (the broker's disk holds no clear event).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from emsync.core.delivery import EventDurability
from emsync.core.outbox import SealedEvent

log = structlog.get_logger("emsync.events")
RETRY_KEY = "emsync.retry"  # routing key of a dead letter a person asked to retry
RETRY_HEADER = "emsync-retry-handler"
NACK_PAUSE_SECONDS = 1.0
# A commit's relay waits this long for the broker's confirm, then leaves the event in the outbox
# for the relay's next round: a broker outage must not hang the request that committed.
CONFIRM_TIMEOUT_SECONDS = 5.0


class RabbitMqTransport:
    def __init__(
        self,
        durability: EventDurability,
        *,
        url: str,
        exchange: str,
        queue: str,
        event_names: Sequence[str],
    ) -> None:
        self._durability = durability
        self._url = url
        self._exchange_name = exchange
        self._queue_name = queue
        self._event_names = tuple(event_names)
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._publishing = asyncio.Lock()

    async def start(self, *, consume: bool) -> None:
        self._connection = await aio_pika.connect_robust(self._url)
        # on_return_raises: a message no queue takes is an error, not a silent drop.
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._exchange = await channel.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        # Declared by publishers too: events committed before any worker ever ran are kept.
        queue = await self._declare_queue(channel)
        if consume:
            consuming = await self._connection.channel()
            await consuming.set_qos(prefetch_count=16)
            queue = await consuming.get_queue(self._queue_name)
            self._consumer = asyncio.create_task(self._consume(queue), name="event-consumer")

    async def _declare_queue(self, channel: AbstractChannel) -> AbstractQueue:
        queue = await channel.declare_queue(self._queue_name, durable=True)
        for key in (*self._event_names, RETRY_KEY):
            await queue.bind(self._exchange_name, routing_key=key)
        return queue

    async def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def publish(self, events: Sequence[SealedEvent], *, redelivery: bool) -> None:
        for event in events:
            await self._send(event, routing_key=event.event_type, headers={})

    async def retry(self, event: SealedEvent, handler: str) -> None:
        await self._send(event, routing_key=RETRY_KEY, headers={RETRY_HEADER: handler})

    async def _send(self, event: SealedEvent, *, routing_key: str, headers: dict[str, str]) -> None:
        if self._exchange is None:
            raise RuntimeError("the RabbitMQ transport is not started")
        message = aio_pika.Message(
            body=event.payload_sealed,
            message_id=event.event_id,
            type=event.event_type,
            headers=dict(headers),
            content_type="application/octet-stream",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        async with self._publishing:  # one confirm at a time keeps the relay's order
            await self._exchange.publish(
                message, routing_key=routing_key, mandatory=True, timeout=CONFIRM_TIMEOUT_SECONDS
            )

    async def _consume(self, queue: AbstractQueue) -> None:
        async with queue.iterator() as messages:
            async for message in messages:
                await self._handle(message)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        if message.message_id is None or message.type is None:
            log.error("event message without id or type dropped")
            await message.reject(requeue=False)
            return
        sealed = SealedEvent(message.message_id, message.type, message.body)
        handler = (message.headers or {}).get(RETRY_HEADER)
        try:
            if isinstance(handler, str):
                await self._durability.retry(sealed, handler)
            else:
                await self._durability.deliver(sealed, redelivery=True)
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down: back in the queue
            log.error(
                "event not handled; requeued",
                event_type=sealed.event_type,
                error=type(exc).__name__,
            )
            await asyncio.sleep(NACK_PAUSE_SECONDS)
            await message.nack(requeue=True)
            return
        await message.ack()
