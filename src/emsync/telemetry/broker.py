"""The embedded MQTT broker for the zero-setup profile: amqtt, in-process, on 127.0.0.1 only.

Demo scale (about 650 QoS 1 msg/s, 0.23-0.43 of Mosquitto's rate: bench/embedded_broker.py), MQTT
3.1.1 only, no shared subscriptions, no TLS: real deployments point EMSYNC_MQTT__HOST at Mosquitto.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

import structlog

from emsync.core.settings import MqttSettings, Settings

if TYPE_CHECKING:
    # Imported when the embedded broker starts: every process imports this module (the CLI's
    # serve, the ingest's wiring), most run no embedded broker.
    from amqtt.broker import Broker

EMBEDDED_HOST = "127.0.0.1"
log = structlog.get_logger("emsync.telemetry.broker")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def with_embedded_broker(settings: Settings) -> Settings:
    """Settings for `emsync serve`: with no broker configured, use the embedded one."""
    if settings.mqtt.host is not None:
        return settings
    mqtt = settings.mqtt.model_copy(
        update={
            "host": EMBEDDED_HOST,
            "embedded": True,
            "protocol": "3.1.1",
            "shared_subscription": False,
            "tls_ca": None,
            "tls_cert": None,
            "tls_key": None,
        }
    )
    return settings.model_copy(update={"mqtt": mqtt})


class EmbeddedBroker:
    """BackgroundService of the ingest role when `mqtt.embedded` is set."""

    name = "telemetry.embedded_broker"

    def __init__(self, settings: MqttSettings) -> None:
        self._settings = settings
        self._broker: Broker | None = None

    async def start(self) -> None:
        if _listening(EMBEDDED_HOST, self._settings.port):
            # A development machine often runs Mosquitto already: use it rather than fail.
            log.warning(
                "a broker already listens; not starting the embedded one", port=self._settings.port
            )
            return
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._broker = Broker(
            {
                "listeners": {
                    "default": {
                        "type": "tcp",
                        "bind": f"{EMBEDDED_HOST}:{self._settings.port}",
                        "max_connections": 1000,
                    }
                },
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
