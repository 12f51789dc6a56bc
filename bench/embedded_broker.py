"""The embedded amqtt broker against Mosquitto: QoS 1 messages per second through each, prints
one JSON line.

    .venv/bin/python bench/embedded_broker.py [--messages 5000]

The same two paho clients (MQTT 3.1.1, QoS 1, up to 1,000 in flight) on loopback: a subscriber
to `emsync/v1/devices/+/+` and a publisher sending `--messages` 120-byte payloads as fast as the
broker acknowledges them; the rate is messages / (first publish -> last message received). The
embedded broker runs as `emsync serve` runs it (`EmbeddedBroker`, in this process's event loop);
the baseline, in the same run, is a private Mosquitto. `ratio` = embedded / Mosquitto.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402
from tests.mosquitto import Mosquitto, free_port  # noqa: E402

from emsync.core.settings import MqttSettings  # noqa: E402
from emsync.telemetry.broker import EmbeddedBroker  # noqa: E402

PAYLOAD = bytes(120)  # about a sealed vitals reading


def _client(client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv311
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def rate(port: int, messages: int) -> float:
    received = 0
    done = threading.Event()
    subscribed = threading.Event()
    subscriber = _client("bench-subscriber")

    def on_message(*_args: Any) -> None:
        nonlocal received
        received += 1
        if received == messages:
            done.set()

    subscriber.on_message = on_message
    subscriber.on_subscribe = lambda *_args: subscribed.set()
    subscriber.on_connect = lambda c, *_args: c.subscribe("emsync/v1/devices/+/+", qos=1)
    subscriber.connect("127.0.0.1", port)
    subscriber.loop_start()
    publisher = _client("bench-publisher")
    connected = threading.Event()
    publisher.on_connect = lambda *_args: connected.set()
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    try:
        if not (subscribed.wait(10) and connected.wait(10)):
            raise RuntimeError("the bench clients could not connect")
        started = time.perf_counter()
        for i in range(messages):
            publisher.publish(f"emsync/v1/devices/bench-{i % 20}/vitals", PAYLOAD, qos=1)
        if not done.wait(600):
            raise RuntimeError(f"only {received} of {messages} messages arrived")
        return messages / (time.perf_counter() - started)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        subscriber.disconnect()
        subscriber.loop_stop()


async def embedded_rate(messages: int) -> float:
    port = free_port()
    broker = EmbeddedBroker(MqttSettings(host="127.0.0.1", port=port, embedded=True))
    await broker.start()
    # amqtt warns on every PUBACK it matched late under load; a bench line, not the point here.
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    try:
        return await asyncio.to_thread(rate, port, messages)
    finally:
        await broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    embedded = asyncio.run(embedded_rate(args.messages))
    with tempfile.TemporaryDirectory() as work:
        mosquitto = Mosquitto(Path(work) / "mqtt")
        mosquitto.start()
        try:
            baseline = rate(mosquitto.port, args.messages)
        finally:
            mosquitto.stop()
    print(
        json.dumps(
            {
                "messages": args.messages,
                "embedded_msgs_per_s": round(embedded),
                "mosquitto_msgs_per_s": round(baseline),
                "ratio": round(embedded / baseline, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
